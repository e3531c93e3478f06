/**
 * One subtask of a job graph vertex as the runtime runs it (Flink's StreamTask): its chain of
 * operators, its input and output channels, its barrier handler and watermark valve, and what
 * it is doing now. `buildTasks` lays out the tasks and channels of a job graph.
 */
import type { Key, SinkWriter, SourceReader } from '../connectors/api.ts';
import type { BarrierHandler } from './barrier-handler.ts';
import { Channel, InputGate, OutputPool } from './channel.ts';
import { MIN_WATERMARK } from './functions.ts';
import { DEFAULT_MAX_PARALLELISM, subtaskOfKey } from './key-groups.ts';
import type { GraphOperatorSpec, JobGraphSpec, SourceVertexSpec } from './job-graph.ts';
import type { KeyedProcessOperator } from './keyed-operator.ts';
import { SubtaskState, type SubtaskSnapshot } from './state.ts';
import type { WatermarkGenerator } from './watermark-generator.ts';
import type { WatermarkValve } from './watermark-valve.ts';

export interface RuntimeOperator {
  readonly spec: GraphOperatorSpec;
  writer: SinkWriter<unknown> | undefined;
  /** An aggregate's accumulators by key. */
  keyed: Map<Key, unknown> | undefined;
  /** A process or co-process function with its keyed state and timers (created at deployment). */
  process: KeyedProcessOperator | undefined;
  /** A timestamp assigner's watermark generator. */
  generator: WatermarkGenerator | undefined;
}

/** The channels of one edge out of a task: hashed by the edge's key selector, or forward (one channel). */
export interface OutputGroup {
  readonly keySelector: ((value: unknown) => Key) | undefined;
  readonly channels: readonly Channel[];
}

export interface Task {
  readonly index: number;
  readonly name: string;
  readonly vertex: number;
  readonly subtaskIndex: number;
  readonly parallelism: number;
  readonly inputs: readonly Channel[];
  /** Every output channel (barriers, watermarks and end of input go to all of them). */
  readonly outputs: readonly Channel[];
  /** Where records of the main output go (one group per edge). */
  readonly mainOutputs: readonly OutputGroup[];
  /** Side outputs by tag id (absent: the vertex has none). */
  readonly sideOutputs: ReadonlyMap<string, readonly OutputGroup[]>;
  readonly operators: RuntimeOperator[];
  readonly sourceSpec: SourceVertexSpec | undefined;
  /** Whether the task handles event time at all: a source or assigner with a strategy, or a process function. Without it, no watermark work. */
  readonly eventTime: boolean;
  source: SourceReader<unknown> | undefined;
  /**
   * A source subtask of a rescaled source: the indices of the splits it owns (it runs one
   * reader per split, split-owning-reader.ts; none: it ends at once); undefined: it reads
   * split `subtaskIndex` with one reader, as built.
   */
  ownedSplits: readonly number[] | undefined;
  /** A source with a watermark strategy: stamps what it reads. */
  sourceGenerator: WatermarkGenerator | undefined;
  /** A task with inputs: its watermark over them (created at deployment; watermarks are not snapshotted). */
  valve: WatermarkValve | undefined;
  /** The watermark (and idleness) last observed for this task. */
  watermarkMs: number;
  idle: boolean;
  /** A source answered NOTHING_AVAILABLE: not polled again before its re-poll timer. */
  waitingForInput: boolean;
  /** Virtual time of the source's last record (idleness timeout). */
  lastRecordAtMs: number;
  /**
   * After a restore that moved source splits between subtasks: per input slot, the replayed
   * channel-state records still queued. Until they are all taken the task takes no new input
   * (Flink's input gate consumes its recovered state before it requests its partitions), so a
   * moved split's in-flight records come before its new ones although they arrive on another channel.
   */
  replayLeft: number[] | undefined;
  /** The sum of `replayLeft`: 0 when the task takes every input. */
  replayHeld: number;
  /** The snapshot the task restores (keyed process operators adopt it at deployment). */
  restored: SubtaskSnapshot | undefined;
  state: SubtaskState;
  barriers: BarrierHandler | undefined;
  /** Waiting on a connector's promise: takes no other work (Flink's task thread is busy). */
  busyWith: string | undefined;
  sourceEnded: boolean;
  finished: boolean;
  declineNext: boolean;
  /** Highest checkpoint this task snapshotted or declined in this attempt. */
  lastSnapshotId: number;
  /** Work to run, in order, once the current connector call settles. */
  readonly continuations: (() => void)[];
  /** Unaligned mode: the snapshot taken at the first barrier, collecting channel state until every input delivered it. */
  unaligned: UnalignedSnapshot | undefined;
  /** Until its deploy message arrives, a task of a new attempt neither emits nor takes input. */
  deployed: boolean;
  /** Virtual ms every record costs this subtask (the job's cost, a planted slow subtask, slow-operator faults); 0: free. */
  recordCostMs: number;
  /** Virtual time until which the task is processing its last record: it takes no other work before (Flink's busy task thread). */
  busyUntilMs: number;
  /** A slow-snapshot fault armed for the task's next snapshot. */
  slowSnapshot: { readonly phase: 'sync' | 'async'; readonly extraMs: number } | undefined;
}

export interface UnalignedSnapshot {
  readonly checkpointId: number;
  /** Undefined while the connectors' snapshotState is still running. */
  snapshot: SubtaskSnapshot | undefined;
  readonly channelState: { key: Key | undefined; value: unknown; timestampMs?: number }[][];
  readonly takenAtSnapshot: readonly number[];
  /** Per input: barrier n taken, and the records it overtook copied into the channel state at that moment. */
  readonly barrierTaken: boolean[];
  barriersComplete: boolean;
}

/** The downstream subtask a key is routed to on a hash exchange (and whose keyed state holds it): through its key group (key-groups.ts). */
export function partitionOf(key: Key, parallelism: number, maxParallelism: number = DEFAULT_MAX_PARALLELISM): number {
  return subtaskOfKey(key, maxParallelism, parallelism);
}

/**
 * The tasks (per vertex, per subtask, in vertex order) and channels (per edge, in edge order)
 * of a job graph; for a linear pipeline the same tasks, names and channels as before job graphs.
 */
/** Credit-based flow control's buffers (a buffer is one element slot; see Channel). */
export interface FlowControlBuffers {
  /** Buffers a receiver keeps for each input channel alone (Flink's buffers-per-channel). */
  readonly exclusiveBuffersPerChannel: number;
  /** Buffers each input gate (a consumer subtask's channels from one edge) lends to its channels with data waiting (Flink's floating-buffers-per-gate). */
  readonly floatingBuffersPerGate: number;
  /** A subtask's output pool holds this many buffers per output channel (0: no pool, a record is written only with credit on every output). */
  readonly outputBuffersPerChannel: number;
}

export function buildTasks(spec: JobGraphSpec, buffers: FlowControlBuffers): { tasks: Task[]; channels: Channel[] } {
  const tasks: Task[] = [];
  const channels: Channel[] = [];
  const vertices = spec.vertices;
  const firstTaskOf: number[] = [];
  let taskCount = 0;
  for (const vertex of vertices) {
    firstTaskOf.push(taskCount);
    taskCount += vertex.parallelism;
  }
  const inputsOf: Channel[][] = Array.from({ length: taskCount }, () => []);
  const outputsOf: Channel[][] = Array.from({ length: taskCount }, () => []);
  /** Per task: output id -> groups. */
  const groupsOf: Map<string, OutputGroup[]>[] = Array.from({ length: taskCount }, () => new Map());
  const poolOf: OutputPool[] = Array.from({ length: taskCount }, () => new OutputPool(0));
  // Channels per edge: hash edges connect every upstream subtask to every downstream one, forward edges subtask i to i.
  for (const edge of spec.edges) {
    const gateOf = new Map<number, InputGate>();
    const from = vertices[edge.from]!;
    const to = vertices[edge.to]!;
    const forward = edge.partitioning.kind === 'forward';
    if (forward && from.parallelism !== to.parallelism) throw new Error(`JobRuntime: forward edge ${from.name} -> ${to.name} between parallelisms ${from.parallelism} and ${to.parallelism}`);
    for (let f = 0; f < from.parallelism; f++) {
      const fromTask = firstTaskOf[edge.from]! + f;
      const edgeChannels: Channel[] = [];
      for (let t = forward ? f : 0; t < (forward ? f + 1 : to.parallelism); t++) {
        const toTask = firstTaskOf[edge.to]! + t;
        if (!gateOf.has(toTask)) gateOf.set(toTask, new InputGate(buffers.floatingBuffersPerGate));
        const channel = new Channel(channels.length, fromTask, toTask, inputsOf[toTask]!.length, buffers.exclusiveBuffersPerChannel, { gate: gateOf.get(toTask)!, pool: poolOf[fromTask]! });
        channel.input = edge.input;
        channels.push(channel);
        outputsOf[fromTask]!.push(channel);
        inputsOf[toTask]!.push(channel);
        edgeChannels.push(channel);
      }
      const groups = groupsOf[fromTask]!;
      if (!groups.has(edge.output)) groups.set(edge.output, []);
      groups.get(edge.output)!.push({ keySelector: edge.partitioning.kind === 'hash' ? edge.partitioning.keySelector : undefined, channels: edgeChannels });
    }
  }
  poolOf.forEach((pool, task) => (pool.buffers = outputsOf[task]!.length * buffers.outputBuffersPerChannel));
  // A vertex handles event time if it stamps or keeps timers, or anything upstream does (watermarks reach it). Edges go from lower ids to higher.
  const eventTimeOf: boolean[] = vertices.map((vertex) => vertex.source?.watermarks !== undefined || vertex.operators.some((op) => op.kind === 'process' || op.kind === 'co-process' || op.kind === 'timestamps'));
  for (const edge of spec.edges) if (eventTimeOf[edge.from]) eventTimeOf[edge.to] = true;
  vertices.forEach((vertex, v) => {
    const strategy = vertex.source?.watermarks;
    if (strategy !== undefined && strategy.timeCharacteristic === 'event' && strategy.timestampOf === undefined) {
      throw new Error(`JobRuntime: the watermark strategy of source ${vertex.source!.name} has no timestamp assigner (withTimestampAssigner)`);
    }
    const eventTime = eventTimeOf[v]!;
    for (let subtask = 0; subtask < vertex.parallelism; subtask++) {
      const index = firstTaskOf[v]! + subtask;
      const groups = groupsOf[index]!;
      const sideOutputs = new Map([...groups].filter(([output]) => output !== 'main'));
      tasks.push({
        index,
        name: `${vertex.name}[${subtask}]`,
        vertex: v,
        subtaskIndex: subtask,
        parallelism: vertex.parallelism,
        inputs: inputsOf[index]!,
        outputs: outputsOf[index]!,
        mainOutputs: groups.get('main') ?? [],
        sideOutputs,
        operators: vertex.operators.map((spec) => ({ spec, writer: undefined, keyed: undefined, process: undefined, generator: undefined })),
        sourceSpec: vertex.source,
        eventTime,
        source: undefined,
        ownedSplits: undefined,
        sourceGenerator: undefined,
        valve: undefined,
        watermarkMs: MIN_WATERMARK,
        idle: false,
        waitingForInput: false,
        lastRecordAtMs: 0,
        replayLeft: undefined,
        replayHeld: 0,
        restored: undefined,
        state: new SubtaskState(),
        barriers: undefined,
        busyWith: undefined,
        sourceEnded: false,
        finished: false,
        declineNext: false,
        lastSnapshotId: 0,
        continuations: [],
        unaligned: undefined,
        deployed: false,
        recordCostMs: 0,
        busyUntilMs: 0,
        slowSnapshot: undefined,
      });
    }
  });
  return { tasks, channels };
}

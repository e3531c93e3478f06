/**
 * Job graphs with several sources, unions, two-input operators and side outputs: the
 * general form every job takes in the runtime (the linear `pipeline()` builder compiles to
 * it). The shape is Flink's JobGraph: vertices are chains of operators that run in one
 * subtask; edges connect an output of one vertex (its main output or a side output) to an
 * input (1 or 2) of another, forward (subtask i to subtask i) or hashed by key.
 *
 *   const job = jobGraph('interval-join');
 *   const orders = job.source('orders', 2, createOrders, { watermarks: WatermarkStrategy.forBoundedOutOfOrderness<Order>(5).withTimestampAssigner((o) => o.ts) });
 *   const payments = job.source('payments', 2, createPayments, { watermarks: ... });
 *   orders.keyBy((o) => o.id, 2).connect(payments.keyBy((p) => p.orderId, 2))
 *     .process('join', () => intervalJoin({ lowerMs: 0, upperMs: 10, join: (o, p) => ({ ...o, paid: p.ts }) }))
 *     .sink('out', createSink);
 *   const spec = job.build();
 *
 * Rules that keep the graph simple (each refused with an error naming the call):
 * - a stream is consumed once (chain it, or keyBy it, or sink it, not two of those);
 * - `union` takes streams of equal parallelism; what follows a union, a side output or a
 *   source stream consumed by a non-chained operator is a new vertex fed forward;
 * - two keyed streams are connected only with equal parallelism;
 * - every path ends in a sink.
 */
import type { Key, SinkWriter, SourceReader, SubtaskInfo } from '../connectors/api.ts';
import type { FunctionFactory, KeyedCoProcessFunction, KeyedProcessFunction, OutputTag, WatermarkStrategy } from './functions.ts';
import type { Keyed, PipelineSpec } from './pipeline.ts';

export const MAX_PARALLELISM = 64;

export type GraphOperatorSpec =
  | { readonly kind: 'map'; readonly name: string; readonly fn: (value: unknown) => unknown }
  | { readonly kind: 'filter'; readonly name: string; readonly fn: (value: unknown) => boolean }
  | {
      readonly kind: 'aggregate';
      readonly name: string;
      /** Returns the new accumulator; must not mutate `accumulator` (snapshots share it). */
      readonly fn: (accumulator: unknown, value: unknown, key: Key) => unknown;
    }
  | { readonly kind: 'process'; readonly name: string; readonly create: FunctionFactory<KeyedProcessFunction<unknown, unknown>> }
  | { readonly kind: 'co-process'; readonly name: string; readonly create: FunctionFactory<KeyedCoProcessFunction<unknown, unknown, unknown>> }
  /** Stamps records and generates watermarks from here on (upstream watermarks are dropped, as in Flink). */
  | { readonly kind: 'timestamps'; readonly name: string; readonly strategy: WatermarkStrategy<unknown> }
  | { readonly kind: 'sink'; readonly name: string; readonly create: (info: SubtaskInfo) => SinkWriter<unknown> };

export interface SourceVertexSpec {
  readonly name: string;
  readonly create: (info: SubtaskInfo) => SourceReader<unknown>;
  /** Without a strategy the source emits no timestamps and no watermarks (only the final one at end of input). */
  readonly watermarks: WatermarkStrategy<unknown> | undefined;
}

export interface VertexSpec {
  readonly id: number;
  /** The chain's operator names joined by '>' (the task name without the subtask index). */
  readonly name: string;
  readonly parallelism: number;
  /** Set on source vertices (they have no inputs). */
  readonly source: SourceVertexSpec | undefined;
  /** The chained operators, in order; a co-process operator comes first. */
  readonly operators: readonly GraphOperatorSpec[];
  /** 0 for sources, 1, or 2 for a vertex whose first operator is a co-process function. */
  readonly inputCount: 0 | 1 | 2;
}

export type Partitioning = { readonly kind: 'forward' } | { readonly kind: 'hash'; readonly keySelector: (value: unknown) => Key };

export interface EdgeSpec {
  readonly from: number;
  /** 'main', or the id of the side output (an OutputTag) the edge carries. */
  readonly output: string;
  readonly to: number;
  readonly input: 1 | 2;
  readonly partitioning: Partitioning;
}

export interface JobGraphSpec {
  readonly name: string;
  /** In topological order: every edge goes from a lower id to a higher one. */
  readonly vertices: readonly VertexSpec[];
  readonly edges: readonly EdgeSpec[];
}

function checkName(call: string, name: string): void {
  if (typeof name !== 'string' || name.length === 0) throw new Error(`${call}: name must be a non-empty string`);
}

function checkParallelism(call: string, parallelism: number): void {
  if (!Number.isSafeInteger(parallelism) || parallelism < 1 || parallelism > MAX_PARALLELISM) {
    throw new Error(`${call}: parallelism must be an integer in [1, ${MAX_PARALLELISM}], got ${String(parallelism)}`);
  }
}

interface MutableVertex {
  id: number;
  parallelism: number;
  source: SourceVertexSpec | undefined;
  operators: GraphOperatorSpec[];
  inputCount: 0 | 1 | 2;
}

/** Where a stream's elements come from: a vertex output. */
interface Origin {
  readonly vertex: number;
  readonly output: string;
}

/** Builds one JobGraphSpec; streams created from it add vertices and edges to it. */
export class JobGraphBuilder {
  private readonly vertices: MutableVertex[] = [];
  private readonly edges: EdgeSpec[] = [];
  private readonly names = new Set<string>();
  private readonly tags = new Set<string>();
  /** Streams created and not yet consumed, to find dangling paths at build(). */
  private readonly open = new Set<DataStream<unknown>>();
  private built = false;

  constructor(readonly name: string) {
    checkName('jobGraph', name);
  }

  source<T>(name: string, parallelism: number, create: (info: SubtaskInfo) => SourceReader<T>, options: { readonly watermarks?: WatermarkStrategy<T> } = {}): DataStream<T> {
    this.claimName(`source(${name})`, name);
    checkParallelism(`source(${name})`, parallelism);
    const vertex = this.addVertex(parallelism, 0);
    vertex.source = { name, create: create as SourceVertexSpec['create'], watermarks: options.watermarks as WatermarkStrategy<unknown> | undefined };
    return this.stream<T>([{ vertex: vertex.id, output: 'main' }], parallelism, true);
  }

  build(): JobGraphSpec {
    if (this.built) throw new Error(`build(${this.name}): already built`);
    if (this.vertices.length === 0) throw new Error(`build(${this.name}): the job has no source`);
    for (const stream of this.open) {
      throw new Error(`build(${this.name}): the stream after ${stream.describeOrigin()} is not consumed: every path must end in a sink`);
    }
    for (const vertex of this.vertices) {
      const last = vertex.operators.at(-1);
      const hasOutEdge = this.edges.some((edge) => edge.from === vertex.id && edge.output === 'main');
      if (last?.kind !== 'sink' && !hasOutEdge) throw new Error(`build(${this.name}): ${this.vertexName(vertex)} ends in no sink`);
    }
    this.built = true;
    return {
      name: this.name,
      vertices: this.vertices.map((vertex) => ({
        id: vertex.id,
        name: this.vertexName(vertex),
        parallelism: vertex.parallelism,
        source: vertex.source,
        operators: [...vertex.operators],
        inputCount: vertex.inputCount,
      })),
      edges: [...this.edges],
    };
  }

  // ------------------------------------------------------------ used by the streams

  /** @internal */
  claimName(call: string, name: string): void {
    checkName(call, name);
    if (this.built) throw new Error(`${call}: the job graph ${this.name} is already built`);
    if (this.names.has(name)) throw new Error(`${call}: operator name '${name}' is already used in ${this.name}`);
    this.names.add(name);
  }

  /** @internal */
  claimTag(call: string, tag: OutputTag<unknown>): void {
    if (tag.id === 'main') throw new Error(`${call}: 'main' is reserved, name the side output otherwise`);
    this.tags.add(tag.id);
  }

  /** @internal */
  consume(stream: DataStream<unknown>, call: string): void {
    if (!this.open.delete(stream)) throw new Error(`${call}: this stream is already consumed (a stream feeds one operator, keyBy or sink)`);
  }

  /** @internal A stream continues in the same vertex when it is the tail of that vertex's chain. */
  chain<U>(stream: DataStream<unknown>, operator: GraphOperatorSpec, call: string): DataStream<U> {
    this.claimName(call, operator.name);
    this.consume(stream, call);
    const vertex = stream.chainableVertex === undefined ? this.forwardVertex(stream, call) : this.vertices[stream.chainableVertex]!;
    vertex.operators.push(operator);
    if (operator.kind === 'sink') return undefined as never;
    return this.stream<U>([{ vertex: vertex.id, output: 'main' }], vertex.parallelism, true);
  }

  /** @internal A keyed operator: a new vertex fed by hash edges from every origin (input 1, or 1 and 2). */
  keyedVertex<U>(inputs: readonly KeyedStream<unknown>[], operator: GraphOperatorSpec, call: string): DataStream<U> {
    this.claimName(call, operator.name);
    const parallelism = inputs[0]!.parallelism;
    for (const input of inputs) {
      if (input.parallelism !== parallelism) {
        throw new Error(`${call}: connected keyed streams must have equal parallelism, got ${inputs.map((i) => i.parallelism).join(' and ')}`);
      }
      this.consume(input.upstream, call);
    }
    const vertex = this.addVertex(parallelism, inputs.length === 2 ? 2 : 1);
    vertex.operators.push(operator);
    inputs.forEach((input, i) => {
      for (const origin of input.upstream.origins) {
        this.edges.push({ from: origin.vertex, output: origin.output, to: vertex.id, input: (i + 1) as 1 | 2, partitioning: { kind: 'hash', keySelector: input.keySelector } });
      }
    });
    if (operator.kind === 'sink') return undefined as never;
    return this.stream<U>([{ vertex: vertex.id, output: 'main' }], parallelism, true);
  }

  /** @internal */
  stream<T>(origins: readonly Origin[], parallelism: number, chainable: boolean): DataStream<T> {
    const stream = new DataStream<T>(this, origins, parallelism, chainable && origins.length === 1 && origins[0]!.output === 'main' ? origins[0]!.vertex : undefined);
    this.open.add(stream as DataStream<unknown>);
    return stream;
  }

  /** @internal */
  vertexNameOf(id: number): string {
    return this.vertexName(this.vertices[id]!);
  }

  private forwardVertex(stream: DataStream<unknown>, call: string): MutableVertex {
    const vertex = this.addVertex(stream.parallelism, 1);
    for (const origin of stream.origins) {
      if (this.vertices[origin.vertex]!.parallelism !== stream.parallelism) throw new Error(`${call}: forward edge between different parallelisms`);
      this.edges.push({ from: origin.vertex, output: origin.output, to: vertex.id, input: 1, partitioning: { kind: 'forward' } });
    }
    return vertex;
  }

  private addVertex(parallelism: number, inputCount: 0 | 1 | 2): MutableVertex {
    const vertex: MutableVertex = { id: this.vertices.length, parallelism, source: undefined, operators: [], inputCount };
    this.vertices.push(vertex);
    return vertex;
  }

  private vertexName(vertex: MutableVertex): string {
    const names = vertex.operators.map((op) => op.name);
    if (vertex.source !== undefined) names.unshift(vertex.source.name);
    return names.join('>');
  }
}

/** A stream of records of type T (Flink's DataStream). */
export class DataStream<T> {
  /** @internal */
  constructor(
    private readonly graph: JobGraphBuilder,
    /** @internal */ readonly origins: readonly Origin[],
    readonly parallelism: number,
    /** @internal The vertex whose chain this stream is the tail of, when an operator may be chained to it. */
    readonly chainableVertex: number | undefined,
  ) {}

  map<U>(name: string, fn: (value: T) => U): DataStream<U> {
    return this.graph.chain<U>(this as DataStream<unknown>, { kind: 'map', name, fn: fn as (value: unknown) => unknown }, `map(${name})`);
  }

  filter(name: string, fn: (value: T) => boolean): DataStream<T> {
    return this.graph.chain<T>(this as DataStream<unknown>, { kind: 'filter', name, fn: fn as (value: unknown) => boolean }, `filter(${name})`);
  }

  assignTimestampsAndWatermarks(name: string, strategy: WatermarkStrategy<T>): DataStream<T> {
    return this.graph.chain<T>(this as DataStream<unknown>, { kind: 'timestamps', name, strategy: strategy as WatermarkStrategy<unknown> }, `assignTimestampsAndWatermarks(${name})`);
  }

  /** A hash exchange into `parallelism` subtasks; keyed state and timers live per key downstream. */
  keyBy(keySelector: (value: T) => Key, parallelism: number): KeyedStream<T> {
    checkParallelism('keyBy', parallelism);
    if (typeof keySelector !== 'function') throw new Error('keyBy: the key selector must be a function');
    return new KeyedStream<T>(this.graph, this, keySelector as (value: unknown) => Key, parallelism);
  }

  /** The elements of this stream and the others, in no order between them (Flink's union). */
  union(...others: DataStream<T>[]): DataStream<T> {
    const all = [this, ...others];
    for (const stream of all) {
      if (stream.parallelism !== this.parallelism) {
        throw new Error(`union: streams must have equal parallelism (keyBy each stream instead), got ${all.map((s) => s.parallelism).join(', ')}`);
      }
      this.graph.consume(stream as DataStream<unknown>, 'union');
    }
    return this.graph.stream<T>(all.flatMap((stream) => stream.origins), this.parallelism, false);
  }

  /** The side output `tag` of the operators that produced this stream (late data, ...). */
  getSideOutput<X>(tag: OutputTag<X>): DataStream<X> {
    this.graph.claimTag('getSideOutput', tag as OutputTag<unknown>);
    const origins = this.origins.map((origin) => ({ vertex: origin.vertex, output: tag.id }));
    return this.graph.stream<X>(origins, this.parallelism, false);
  }

  sink(name: string, create: (info: SubtaskInfo) => SinkWriter<T>): void {
    this.graph.chain<never>(this as DataStream<unknown>, { kind: 'sink', name, create: create as (info: SubtaskInfo) => SinkWriter<unknown> }, `sink(${name})`);
  }

  /** @internal */
  describeOrigin(): string {
    return this.origins.map((origin) => `${this.graph.vertexNameOf(origin.vertex)}${origin.output === 'main' ? '' : ` (side output '${origin.output}')`}`).join(' + ');
  }
}

/** A stream partitioned by key (Flink's KeyedStream): keyed operators follow. */
export class KeyedStream<T> {
  /** @internal */
  constructor(
    private readonly graph: JobGraphBuilder,
    /** @internal */ readonly upstream: DataStream<T>,
    /** @internal */ readonly keySelector: (value: unknown) => Key,
    readonly parallelism: number,
  ) {}

  /** A running aggregate per key; emits `{ key, value: accumulator }` after every record. */
  aggregate<A>(name: string, fn: (accumulator: A | undefined, value: T, key: Key) => A): DataStream<Keyed<A>> {
    return this.graph.keyedVertex<Keyed<A>>([this as KeyedStream<unknown>], { kind: 'aggregate', name, fn: fn as (accumulator: unknown, value: unknown, key: Key) => unknown }, `aggregate(${name})`);
  }

  process<O>(name: string, create: FunctionFactory<KeyedProcessFunction<T, O>>): DataStream<O> {
    if (typeof create !== 'function') throw new Error(`process(${name}): pass a factory (info) => function, one instance per subtask`);
    return this.graph.keyedVertex<O>([this as KeyedStream<unknown>], { kind: 'process', name, create: create as FunctionFactory<KeyedProcessFunction<unknown, unknown>> }, `process(${name})`);
  }

  connect<T2>(other: KeyedStream<T2>): ConnectedKeyedStreams<T, T2> {
    return new ConnectedKeyedStreams<T, T2>(this.graph, this, other);
  }

  /** A keyed sink: records reach the sink subtask that owns their key. */
  sink(name: string, create: (info: SubtaskInfo) => SinkWriter<T>): void {
    this.graph.keyedVertex<never>([this as KeyedStream<unknown>], { kind: 'sink', name, create: create as (info: SubtaskInfo) => SinkWriter<unknown> }, `sink(${name})`);
  }
}

/** Two keyed streams with the same key, processed together (Flink's ConnectedStreams after keyBy). */
export class ConnectedKeyedStreams<T1, T2> {
  /** @internal */
  constructor(
    private readonly graph: JobGraphBuilder,
    private readonly first: KeyedStream<T1>,
    private readonly second: KeyedStream<T2>,
  ) {}

  process<O>(name: string, create: FunctionFactory<KeyedCoProcessFunction<T1, T2, O>>): DataStream<O> {
    if (typeof create !== 'function') throw new Error(`process(${name}): pass a factory (info) => function, one instance per subtask`);
    return this.graph.keyedVertex<O>(
      [this.first as KeyedStream<unknown>, this.second as KeyedStream<unknown>],
      { kind: 'co-process', name, create: create as FunctionFactory<KeyedCoProcessFunction<unknown, unknown, unknown>> },
      `process(${name})`,
    );
  }
}

export function jobGraph(name: string): JobGraphBuilder {
  return new JobGraphBuilder(name);
}

/** The linear pipeline as a job graph: stage s is vertex s, joined by hash edges. */
export function pipelineToJobGraph(spec: PipelineSpec): JobGraphSpec {
  const vertices: VertexSpec[] = spec.stages.map((stage, s) => {
    const names = stage.operators.map((op) => op.name);
    if (s === 0) names.unshift(spec.source.name);
    return {
      id: s,
      name: names.join('>'),
      parallelism: stage.parallelism,
      source: s === 0 ? { name: spec.source.name, create: spec.source.create, watermarks: undefined } : undefined,
      operators: stage.operators,
      inputCount: s === 0 ? 0 : 1,
    };
  });
  const edges: EdgeSpec[] = [];
  for (let s = 1; s < spec.stages.length; s++) {
    edges.push({ from: s - 1, output: 'main', to: s, input: 1, partitioning: { kind: 'hash', keySelector: spec.stages[s]!.keySelector! } });
  }
  return { name: spec.name, vertices, edges };
}

import type { SimEnvironment } from '../../connectors/sim/environment.ts';
import type { JobRuntime } from '../../runtime/job.ts';
import type { Scheduler } from '../../sim/scheduler.ts';
import type { RunObservations } from '../../runtime/observations.ts';

/**
 * A hash of the whole simulation state before a step, for prove's state cache: the job
 * runtime's object graph (tasks, channels, operators and their state, barrier handlers, the
 * coordinator, the control messages in flight, the fault plan's position), the external
 * systems' models (SimEnvironment.serviceModels, and whatever the connectors reach), and the
 * scheduler's pending timers and I/O calls with the step and the virtual time.
 *
 * A generic walk rather than a hash each class keeps up to date: the runtime changes under
 * other hands, and a field a class forgot to hash would merge different states (an unsound
 * prune). What a walk cannot see is state captured only in closures: a timer's or an I/O
 * call's effect (named by its label, which the scheduler part hashes), and a scenario's own
 * bookkeeping in its judge. Left out on purpose, as history rather than state: the run's
 * observations (the verdict is judged over them at the end; see prove.ts for what that
 * assumes), each channel's count of full encounters (bumped by every look at the enabled
 * events) and its peak of buffers overdrawn (history, which the flow-control invariant
 * judges at the end), and the time of a source's last record in a task without event time (read only by
 * the idleness timeout, which needs event time).
 */
export function hashSimulationState(scheduler: Scheduler, job: JobRuntime, env: SimEnvironment): string {
  const walker = new StateWalker(constantsOf(scheduler, job, env));
  walker.fold(scheduler.describePending());
  walker.walk(job);
  walker.walk(env);
  return walker.hex();
}

/**
 * Objects that are the same in every state of a run, numbered once per run: the job's
 * definition and options (with every object they reach: operator specs, input data, user
 * functions), the scheduler, the observations (history, see above), and the fault plan
 * (prove keys the cache with the faults still to come). A reference to one hashes as its number.
 */
const constantsByJob = new WeakMap<JobRuntime, Map<object, number>>();

function constantsOf(scheduler: Scheduler, job: JobRuntime, env: SimEnvironment): Map<object, number> {
  let constants = constantsByJob.get(job);
  if (constants !== undefined) return constants;
  constants = new Map();
  const mark = (value: unknown): void => {
    if (typeof value !== 'object' || value === null || constants!.has(value)) return;
    constants!.set(value, constants!.size);
    if (value instanceof Map) for (const [key, item] of value) (mark(key), mark(item));
    else if (value instanceof Set) for (const item of value) mark(item);
    else if (!ArrayBuffer.isView(value) && !(value instanceof Promise)) for (const item of Object.values(value)) mark(item);
  };
  constants.set(scheduler, constants.size);
  constants.set(env.scheduler, constants.size);
  mark(job.observations);
  mark(job.spec);
  mark(job.options);
  mark((job as unknown as Record<string, unknown>)['faults']);
  constantsByJob.set(job, constants);
  return constants;
}

/** JobRuntime's position in the fault plan: the faults still to come are part of prove's cache key instead. */
// `metrics` and `checkpointProgress` are Flink's task metrics and checkpoint details: measured
// in virtual time, so two orders of commuting events leave them apart, and no behaviour reads
// them (the diagnosis judges them at the end; prove's properties do not).
const SKIPPED_KEYS: ReadonlySet<string> = new Set(['fullEncounters', 'peakBuffersOverdrawn', 'onOverdrawn', 'onCheckpointCompleted', 'faultIndex', 'metrics', 'checkpointProgress']);

/**
 * Two 32-bit hashes folded side by side (FNV-1a, and a multiply-rotate hash with other
 * constants): 64 bits, so that two of the few hundred thousand states a search meets collide
 * with a chance of about 1e-9. A cryptographic hash of a joined string cost ten times as much.
 */
class StateWalker {
  /** Objects seen in this state, by order of first visit: a second reference hashes as that number (cycles, sharing). */
  private readonly seen = new Map<object, number>();
  private first = 0x811c9dc5;
  private second = 0x9e3779b9;
  private readonly parts = {
    push: (text: string, more?: string): void => {
      this.fold(text);
      if (more !== undefined) this.fold(more);
    },
  };

  constructor(private readonly constants: ReadonlyMap<object, number>) {}

  fold(text: string): void {
    let first = this.first;
    let second = this.second;
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      first = Math.imul(first ^ code, 0x01000193);
      second = Math.imul((second ^ code) << 5 | (second ^ code) >>> 27, 0x85ebca6b) + 0x27d4eb2f;
    }
    // A separator, so that "ab" + "c" and "a" + "bc" differ.
    this.first = Math.imul(first ^ 0xff, 0x01000193);
    this.second = Math.imul(second ^ 0xff, 0xc2b2ae35);
  }

  /** A small integer folded as itself (most state is counters and offsets), anything else as text. */
  foldNumber(value: number): void {
    if ((value | 0) !== value) return this.fold(`${value}`);
    this.first = Math.imul(Math.imul(this.first ^ 0xfe, 0x01000193) ^ value, 0x01000193);
    this.second = Math.imul((this.second ^ value) << 5 | (this.second ^ value) >>> 27, 0x85ebca6b) + 0x165667b1;
  }

  hex(): string {
    return (this.first >>> 0).toString(16).padStart(8, '0') + (this.second >>> 0).toString(16).padStart(8, '0');
  }

  walk(value: unknown): void {
    const parts = this.parts;
    switch (typeof value) {
      case 'undefined':
        parts.push('u;');
        return;
      case 'number':
        this.foldNumber(value);
        return;
      case 'boolean':
        parts.push(value ? 'T;' : 'F;');
        return;
      case 'bigint':
        parts.push(`${value}n;`);
        return;
      case 'string':
        parts.push('s', value);
        return;
      case 'symbol':
        parts.push(`y${String(value)};`);
        return;
      case 'function':
        // Behaviour, not state (a closure's captured state is out of reach; see above).
        parts.push('f;');
        return;
    }
    if (value === null) {
      parts.push('n;');
      return;
    }
    const object = value as object;
    const constant = this.constants.get(object);
    if (constant !== undefined) {
      parts.push('c');
      this.foldNumber(constant);
      return;
    }
    const seenAs = this.seen.get(object);
    if (seenAs !== undefined) {
      parts.push('r');
      this.foldNumber(seenAs);
      return;
    }
    this.seen.set(object, this.seen.size);
    if (object instanceof Promise) {
      // A promise's state cannot be read synchronously; prove caches no state while a task awaits one.
      parts.push('p;');
      return;
    }
    if (Array.isArray(object)) {
      parts.push(`[${object.length}`);
      for (const item of object) this.walk(item);
      parts.push(']');
      return;
    }
    if (ArrayBuffer.isView(object)) {
      parts.push(`t${object.constructor.name}`, Array.from(new Uint8Array(object.buffer, object.byteOffset, object.byteLength)).join(','));
      return;
    }
    if (object instanceof Map) {
      parts.push(`M${object.size}`);
      for (const [key, item] of object) {
        this.walk(key);
        this.walk(item);
      }
      parts.push('}');
      return;
    }
    if (object instanceof Set) {
      parts.push(`S${object.size}`);
      for (const item of object) this.walk(item);
      parts.push('}');
      return;
    }
    parts.push(`{${object.constructor?.name ?? ''}`);
    const record = object as Record<string, unknown>;
    // A task without event time never reads the time of its last record (see above).
    const skipLastRecordAt = record['eventTime'] === false && 'lastRecordAtMs' in record;
    for (const key of Object.keys(record)) {
      if (SKIPPED_KEYS.has(key) || (skipLastRecordAt && key === 'lastRecordAtMs')) continue;
      parts.push(key, '=');
      this.walk(record[key]);
    }
    parts.push('}');
  }
}

/**
 * What the run's history says that the state does not, in a form two orders of the same
 * independent steps share: which faults fired in which situation, how each checkpoint ended,
 * which checkpoint each attempt restored, and how many events of each kind were observed;
 * without steps, times and sequence numbers. prove adds it to the cache key, so that a run is
 * stopped only at a state reached with the same history in these words: a whole-job crash
 * and a task crash can leave the same state, and only the history says which one happened
 * (the restore-choice invariant judges that).
 */
export function summarizeHistory(observations: RunObservations): string {
  const faults = observations.faults.map((fault) => `${fault.kind}@${fault.situation}`).sort();
  const checkpoints = observations.checkpointEvents.map((event) => `${event.checkpointId}:${event.event}${event.cause === undefined ? '' : `:${event.cause}`}`).sort();
  const restores = observations.restores.map((restore) => `${restore.attempt}:${restore.checkpointId ?? '-'}`);
  const counts = Object.entries(observations).filter(([, value]) => Array.isArray(value)).map(([key, value]) => `${key}=${(value as unknown[]).length}`);
  return `${faults.join(',')}|${checkpoints.join(',')}|${restores.join(',')}|${counts.join(',')}`;
}

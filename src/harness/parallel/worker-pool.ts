import { Worker } from 'node:worker_threads';
import { encodeCase } from '../case-token.ts';
import { CaseRunner, type CaseOutcome, type CaseTask } from './case-runner.ts';

/** Runs case tasks, in index order of dispatch, stopping past the first failure. */
export interface CaseExecutor {
  /**
   * Runs `tasks` (ascending indexes) and resolves with the outcome of every task it ran.
   * Once a case fails, no task with a higher index starts; those with a lower index still
   * finish, because one of them may fail too, and the lowest failing index wins.
   */
  runAll(tasks: readonly CaseTask[], onOutcome?: (outcome: CaseOutcome) => void): Promise<CaseOutcome[]>;
  close(): Promise<void>;
}

/** A worker thread that crashed, hung or failed to start: names the case it was running. */
export class WorkerCaseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkerCaseError';
  }
}

export function isFailure(outcome: CaseOutcome): boolean {
  return outcome.kind === 'threw' || outcome.digest.failed;
}

/** The same contract on the calling thread: `--workers 1`, and scenarios no worker can load. */
export class InProcessExecutor implements CaseExecutor {
  private readonly runner: CaseRunner;
  constructor(cwd: string) {
    this.runner = new CaseRunner(cwd);
  }
  async runAll(tasks: readonly CaseTask[], onOutcome?: (outcome: CaseOutcome) => void): Promise<CaseOutcome[]> {
    const outcomes: CaseOutcome[] = [];
    for (const task of tasks) {
      const outcome = await this.runner.run(task);
      outcomes.push(outcome);
      onOutcome?.(outcome);
      if (isFailure(outcome)) break;
    }
    return outcomes;
  }
  async close(): Promise<void> {}
}

interface PooledWorker {
  readonly id: number;
  readonly worker: Worker;
  readonly ready: Promise<void>;
  task: CaseTask | undefined;
  timer: NodeJS.Timeout | undefined;
  onOutcome: ((outcome: CaseOutcome) => void) | undefined;
}

const WORKER_ENTRY = new URL('./worker.mjs', import.meta.url);

/**
 * `node:worker_threads` directly rather than a pool library: the pool must know which case
 * each thread holds (to name it when the thread crashes or hangs), stop dispatching past
 * the first failure, and terminate a hung thread; that is a few dozen lines here, and a
 * library would add a dependency while hiding exactly the per-task state we need.
 */
export class WorkerPool implements CaseExecutor {
  private readonly workers: PooledWorker[] = [];
  private broken: WorkerCaseError | undefined;
  private failRun: ((error: WorkerCaseError) => void) | undefined;

  constructor(
    readonly size: number,
    private readonly cwd: string,
    /** Bound on one case (both runs when determinism is checked), in wall-clock ms. */
    private readonly caseTimeoutMs: number,
  ) {
    if (!Number.isSafeInteger(size) || size < 1) throw new Error(`WorkerPool: size must be a positive integer, got ${size}`);
    if (!(caseTimeoutMs > 0)) throw new Error(`WorkerPool: caseTimeoutMs must be positive, got ${caseTimeoutMs}`);
    for (let id = 0; id < size; id++) this.workers.push(this.spawn(id));
  }

  private spawn(id: number): PooledWorker {
    const worker = new Worker(WORKER_ENTRY, { workerData: { cwd: this.cwd } });
    let resolveReady!: () => void;
    const ready = new Promise<void>((resolve) => (resolveReady = resolve));
    const pooled: PooledWorker = { id, worker, ready, task: undefined, timer: undefined, onOutcome: undefined };
    worker.on('message', (message: CaseOutcome | { kind: 'ready' }) => {
      if (message.kind === 'ready') return resolveReady();
      if (pooled.task === undefined || message.index !== pooled.task.index) {
        return this.fail(new WorkerCaseError(`worker ${id} answered case ${message.index}, but it was running ${pooled.task?.index ?? 'none'}: the pool lost track`));
      }
      clearTimeout(pooled.timer);
      pooled.task = undefined;
      pooled.onOutcome?.(message);
    });
    worker.on('error', (error) => this.fail(new WorkerCaseError(`worker ${id} crashed ${this.holding(pooled)}: ${error instanceof Error ? error.message : String(error)}`)));
    worker.on('exit', (code) => {
      if (this.closing) return;
      this.fail(new WorkerCaseError(`worker ${id} exited with code ${code} ${this.holding(pooled)}`));
    });
    return pooled;
  }

  private holding(pooled: PooledWorker): string {
    const task = pooled.task;
    if (task === undefined) return 'while idle (loading its scenario or between cases)';
    return `while running case ${task.index} of ${task.scenario.name} (replay: npx streamcheck replay ${encodeCase(task.spec)})`;
  }

  private fail(error: WorkerCaseError): void {
    if (this.broken !== undefined) return;
    this.broken = error;
    this.failRun?.(error);
    void this.close();
  }

  runAll(tasks: readonly CaseTask[], onOutcome?: (outcome: CaseOutcome) => void): Promise<CaseOutcome[]> {
    if (this.broken !== undefined) return Promise.reject(this.broken);
    if (this.closing) return Promise.reject(new Error('WorkerPool.runAll: the pool is closed'));
    return new Promise<CaseOutcome[]>((resolve, reject) => {
      const outcomes: CaseOutcome[] = [];
      let next = 0;
      let lowestFailure = Number.POSITIVE_INFINITY;
      let inFlight = 0;
      this.failRun = reject;
      const finishIfDone = (): void => {
        const more = next < tasks.length && tasks[next]!.index < lowestFailure;
        if (!more && inFlight === 0) {
          this.failRun = undefined;
          resolve(outcomes.sort((a, b) => a.index - b.index));
        }
      };
      const dispatch = (pooled: PooledWorker): void => {
        if (this.broken !== undefined) return;
        if (next >= tasks.length || tasks[next]!.index >= lowestFailure) return finishIfDone();
        const task = tasks[next++]!;
        pooled.task = task;
        inFlight++;
        pooled.timer = setTimeout(() => {
          this.fail(new WorkerCaseError(`worker ${pooled.id} hung ${this.holding(pooled)}: no answer within ${this.caseTimeoutMs} ms`));
        }, this.caseTimeoutMs);
        pooled.worker.postMessage(task);
      };
      for (const pooled of this.workers) {
        pooled.onOutcome = (outcome) => {
          inFlight--;
          outcomes.push(outcome);
          if (isFailure(outcome)) lowestFailure = Math.min(lowestFailure, outcome.index);
          onOutcome?.(outcome);
          dispatch(pooled);
        };
        void pooled.ready.then(() => dispatch(pooled));
      }
      if (tasks.length === 0) finishIfDone();
    });
  }

  private closing = false;

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const pooled of this.workers) clearTimeout(pooled.timer);
    await Promise.all(this.workers.map((pooled) => pooled.worker.terminate()));
  }
}

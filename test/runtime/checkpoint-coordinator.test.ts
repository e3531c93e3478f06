import { describe, expect, test } from 'vitest';
import { CheckpointCoordinator, isForCoordinator, type ControlMessage, type CoordinatorHost } from '../../src/runtime/checkpoint-coordinator.ts';
import { RuntimeInvariantError } from '../../src/runtime/errors.ts';
import type { ExecutionIds } from '../../src/runtime/execution-ids.ts';
import { DEFAULT_JOB_OPTIONS, type JobOptions } from '../../src/runtime/job.ts';
import type { AlignmentObservation, RunObservations } from '../../src/runtime/observations.ts';
import type { SubtaskSnapshot } from '../../src/runtime/state.ts';
import type { StepDriver } from '../../src/sim/scheduler.ts';

/**
 * The checkpoint coordinator driven directly, with a fake job around it: what it sends, records
 * and observes for each call (issue 14: mutants of checkpoint-coordinator.ts the main job does
 * not tell apart).
 */

class FakeScheduler {
  step = 0;
  nowMs = 0;
  readonly records: string[] = [];
  stopped = false;
  private readonly timers: Array<{ dueMs: number; label: string; fire: () => void; cancelled: boolean }> = [];
  setTimer(delayMs: number, label: string, fire: () => void): () => void {
    const timer = { dueMs: this.nowMs + delayMs, label, fire, cancelled: false };
    this.timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  }
  record(event: string): void {
    this.records.push(event);
  }
  stop(): void {
    this.stopped = true;
  }
  /** Labels of the timers still to fire, soonest first. */
  pendingTimers(): string[] {
    return this.timers.filter((timer) => !timer.cancelled).sort((a, b) => a.dueMs - b.dueMs).map((timer) => `${timer.label} @${timer.dueMs}`);
  }
  /** Moves time on by `ms`, firing the timers due by then in order. */
  advance(ms: number): void {
    const until = this.nowMs + ms;
    for (let fired = 0; ; fired++) {
      // A timer that re-arms itself without moving time would loop for ever: fail instead.
      if (fired > 10_000) throw new Error(`timers keep firing at ${this.nowMs} ms: ${this.pendingTimers().slice(0, 3).join(', ')}`);
      const due = this.timers.filter((timer) => !timer.cancelled && timer.dueMs <= until).sort((a, b) => a.dueMs - b.dueMs)[0];
      if (due === undefined) break;
      due.cancelled = true;
      this.nowMs = due.dueMs;
      due.fire();
    }
    this.nowMs = until;
  }
}

interface Fixture {
  readonly coordinator: CheckpointCoordinator;
  readonly scheduler: FakeScheduler;
  readonly observations: RunObservations;
  readonly sent: ControlMessage[];
  readonly completed: number[];
  readonly host: { running: boolean; attempt: number; finished: boolean };
  /** Messages sent since the last call, in words (`trigger 1 -> 0`). */
  take(): string[];
}

const TASKS = 3; // tasks 0 and 1 are sources, task 2 is not

function fixture(options: Partial<JobOptions> = {}, taskCount = TASKS): Fixture {
  const scheduler = new FakeScheduler();
  const observations = { checkpoints: [], checkpointEvents: [], alignment: [], lostMessages: [] } as unknown as RunObservations;
  const sent: ControlMessage[] = [];
  const completed: number[] = [];
  const state = { running: true, attempt: 1, finished: false };
  let seq = 0;
  let taken = 0;
  const ids = { jobId: 'job-id', executionAttemptId: (task: number, attempt: number) => `attempt-${task}-${attempt}`, taskManager: (task: number) => `tm-${task + 1}` } as unknown as ExecutionIds;
  const host: CoordinatorHost = {
    jobName: 'job',
    ids,
    taskNames: Array.from({ length: taskCount }, (_, task) => `task-${task}`),
    isSource: (task) => {
      // As the job's: a task index out of range is a bug of the caller.
      if (!(Number.isInteger(task) && task >= 0 && task < taskCount)) throw new Error(`no task ${task}`);
      return task < 2;
    },
    isRunning: () => state.running,
    attempt: () => state.attempt,
    nextSeq: () => seq++,
    send: (message) => sent.push(message),
    onCheckpointCompleted: (checkpointId) => completed.push(checkpointId),
    onFinished: () => {
      state.finished = true;
    },
  };
  const coordinator = new CheckpointCoordinator(host, { ...DEFAULT_JOB_OPTIONS, ...options }, scheduler as unknown as StepDriver, observations, taskCount);
  coordinator.startAttempt();
  return {
    coordinator,
    scheduler,
    observations,
    sent,
    completed,
    host: state,
    take: () => {
      const words = sent.slice(taken).map((message) => `${message.kind}${'checkpointId' in message ? ` ${message.checkpointId}` : ''} -> ${message.task}`);
      taken = sent.length;
      return words;
    },
  };
}

const snapshotOf = (task: number, checkpointId: number): SubtaskSnapshot => ({ operatorState: { of: [`${task}@${checkpointId}`] }, keyedState: {} });
const alignmentOf = (task: number, checkpointId: number): AlignmentObservation => ({ checkpointId, task, inputSlot: 0, recordsBeforeBarrier: 1, recordsTakenAtSnapshot: 1, recordsInChannelState: 0 });

function ackAll(f: Fixture, checkpointId: number, tasks: readonly number[] = [0, 1, 2]): void {
  for (const task of tasks) f.coordinator.onAck(checkpointId, task, snapshotOf(task, checkpointId), [alignmentOf(task, checkpointId)], 'barrier');
}

describe('isForCoordinator', () => {
  test('acks, declines and input-ended go to the coordinator, every other message to a task', () => {
    const snapshot = snapshotOf(0, 1);
    const messages: ControlMessage[] = [
      { kind: 'ack', checkpointId: 1, task: 0, snapshot, alignment: [], cause: 'barrier' },
      { kind: 'decline', checkpointId: 1, task: 0, reason: 'r' },
      { kind: 'input-ended', task: 0 },
      { kind: 'trigger', checkpointId: 1, task: 0 },
      { kind: 'notify-complete', checkpointId: 1, task: 0 },
      { kind: 'notify-aborted', checkpointId: 1, task: 0 },
      { kind: 'deploy', task: 0, checkpointId: undefined },
    ];
    expect(messages.map((message) => isForCoordinator(message))).toEqual([true, true, true, false, false, false, false]);
  });
});

describe('CheckpointCoordinator', () => {
  test('a trigger goes to the sources, is observed as pending and completes with the last ack', () => {
    const f = fixture();
    f.scheduler.step = 7;
    f.scheduler.nowMs = 70;
    f.coordinator.triggerCheckpoint();
    expect(f.take()).toEqual(['trigger 1 -> 0', 'trigger 1 -> 1']);
    expect(f.scheduler.records).toEqual(['coordinator triggers checkpoint 1']);
    expect(f.observations.checkpoints).toEqual([
      {
        checkpointId: 1,
        triggeredAtStep: 7,
        triggeredAtMs: 70,
        triggeredSeq: 0,
        snapshotCauses: [undefined, undefined, undefined],
        outcome: 'pending',
        endedAtStep: -1,
        endedAtMs: -1,
        reason: '',
        tasks: undefined,
        lastAckTask: -1,
        lastAckStep: -1,
        ackedTasks: [],
      },
    ]);
    expect(f.observations.checkpointEvents).toStrictEqual([{ seq: 0, checkpointId: 1, event: 'triggered', atStep: 7, atMs: 70 }]);
    expect([...f.coordinator.pending.keys()]).toEqual([1]);

    f.scheduler.step = 9;
    f.coordinator.onAck(1, 2, snapshotOf(2, 1), [alignmentOf(2, 1)], 'trigger');
    f.scheduler.step = 10;
    f.coordinator.onAck(1, 0, snapshotOf(0, 1), [alignmentOf(0, 1)], 'barrier');
    const observation = f.observations.checkpoints[0]!;
    expect(observation.ackedTasks).toEqual([2, 0]);
    expect(observation.snapshotCauses).toEqual(['barrier', undefined, 'trigger']);
    expect([observation.lastAckTask, observation.lastAckStep, observation.outcome]).toEqual([0, 10, 'pending']);
    expect(f.coordinator.pending.get(1)!.ackCount).toBe(2);
    expect(f.completed).toEqual([]);
    expect(f.take()).toEqual([]);

    f.scheduler.step = 12;
    f.scheduler.nowMs = 120;
    f.coordinator.onAck(1, 1, snapshotOf(1, 1), [alignmentOf(1, 1)], 'barrier');
    expect(f.completed).toEqual([1]);
    expect(f.coordinator.pending.size).toBe(0);
    expect(f.take()).toEqual(['notify-complete 1 -> 0', 'notify-complete 1 -> 1', 'notify-complete 1 -> 2']);
    expect(f.coordinator.store.latest()).toEqual({ checkpointId: 1, triggeredAtStep: 7, completedAtStep: 12, tasks: [snapshotOf(0, 1), snapshotOf(1, 1), snapshotOf(2, 1)] });
    expect(observation).toMatchObject({ outcome: 'completed', endedAtStep: 12, endedAtMs: 120, reason: '', tasks: [snapshotOf(0, 1), snapshotOf(1, 1), snapshotOf(2, 1)], lastAckTask: 1 });
    expect(f.observations.checkpointEvents.at(-1)).toStrictEqual({ seq: 1, checkpointId: 1, event: 'completed', atStep: 12, atMs: 120 });
    expect(f.observations.alignment).toEqual([alignmentOf(2, 1), alignmentOf(0, 1), alignmentOf(1, 1)]);
    expect(f.scheduler.records).toEqual(['coordinator triggers checkpoint 1', 'checkpoint 1 completed']);
    // The timeout of a completed checkpoint was cancelled.
    f.scheduler.advance(10_000);
    expect(f.observations.checkpoints[0]!.outcome).toBe('completed');
  });

  test('no trigger while the job is not running, nor beyond the concurrent checkpoints allowed', () => {
    const stopped = fixture();
    stopped.host.running = false;
    stopped.coordinator.triggerCheckpoint();
    expect(stopped.take()).toEqual([]);
    expect(stopped.observations.checkpoints).toEqual([]);

    const one = fixture({ maxConcurrentCheckpoints: 1 });
    one.coordinator.triggerCheckpoint();
    one.coordinator.triggerCheckpoint();
    expect([...one.coordinator.pending.keys()]).toEqual([1]);
    const two = fixture({ maxConcurrentCheckpoints: 2 });
    for (let i = 0; i < 3; i++) two.coordinator.triggerCheckpoint();
    expect([...two.coordinator.pending.keys()]).toEqual([1, 2]);
    expect(two.take()).toEqual(['trigger 1 -> 0', 'trigger 1 -> 1', 'trigger 2 -> 0', 'trigger 2 -> 1']);
  });

  test('an ack counted twice is a runtime invariant error; a late ack is dropped, and logged when its checkpoint expired', () => {
    const f = fixture();
    f.coordinator.triggerCheckpoint();
    f.coordinator.onAck(1, 0, snapshotOf(0, 1), [], 'barrier');
    expect(() => f.coordinator.onAck(1, 0, snapshotOf(0, 1), [], 'barrier')).toThrow(new RuntimeInvariantError('task 0 acked checkpoint 1 twice'));
    f.coordinator.abortCheckpoint(1, 'declined', 'declined by test');
    const records = f.scheduler.records.length;
    f.coordinator.onAck(1, 1, snapshotOf(1, 1), [], 'barrier');
    expect(f.scheduler.records.length).toBe(records);

    f.coordinator.triggerCheckpoint();
    f.scheduler.advance(DEFAULT_JOB_OPTIONS.checkpointTimeoutMs);
    expect(f.observations.checkpoints[1]!.outcome).toBe('expired');
    f.coordinator.onAck(2, 1, snapshotOf(1, 2), [], 'barrier');
    expect(f.scheduler.records.at(-1)).toBe('Received late message for now expired checkpoint attempt 2 from task attempt-1-1 of job job-id at tm-2.');
    expect(f.completed).toEqual([]);
  });

  test('planted bug dropAcksFromLastTask: only the last task\'s acks are not counted', () => {
    const f = fixture({ dropAcksFromLastTask: true });
    f.coordinator.triggerCheckpoint();
    ackAll(f, 1);
    expect(f.observations.checkpoints[0]!.ackedTasks).toEqual([0, 1]);
    expect(f.coordinator.pending.get(1)!.ackCount).toBe(2);
    expect(f.completed).toEqual([]);
  });

  test('completing a checkpoint subsumes the older pending ones', () => {
    const f = fixture({ maxConcurrentCheckpoints: 3 });
    for (let i = 0; i < 3; i++) f.coordinator.triggerCheckpoint();
    f.take();
    ackAll(f, 2);
    expect(f.observations.checkpoints.map((c) => c.outcome)).toEqual(['aborted', 'completed', 'pending']);
    expect(f.observations.checkpoints[0]!.reason).toBe('Checkpoint 1 of job job subsumed by checkpoint 2');
    expect(f.observations.checkpointEvents.filter((event) => event.event === 'aborted')).toEqual([expect.objectContaining({ checkpointId: 1, cause: 'subsumed' })]);
    expect([...f.coordinator.pending.keys()]).toEqual([3]);
    expect(f.take()).toEqual(['notify-aborted 1 -> 0', 'notify-aborted 1 -> 1', 'notify-aborted 1 -> 2', 'notify-complete 2 -> 0', 'notify-complete 2 -> 1', 'notify-complete 2 -> 2']);
  });

  test('expiry: by the timeout of the attempt that triggered it, or of the oldest pending one by the fault plan', () => {
    const f = fixture({ maxConcurrentCheckpoints: 3, checkpointTimeoutMs: 500 });
    f.coordinator.triggerCheckpoint();
    f.scheduler.advance(100);
    f.coordinator.triggerCheckpoint();
    f.coordinator.triggerCheckpoint();
    f.coordinator.expireOldest();
    expect(f.observations.checkpoints.map((c) => c.outcome)).toEqual(['expired', 'pending', 'pending']);
    expect(f.observations.checkpoints[0]!.reason).toBe('Checkpoint 1 of job job-id expired before completing.');
    f.coordinator.expireOldest();
    expect(f.observations.checkpoints.map((c) => c.outcome)).toEqual(['expired', 'expired', 'pending']);
    f.coordinator.expireCheckpoint(2); // already over: nothing happens
    expect(f.observations.checkpointEvents.filter((event) => event.event === 'expired').map((event) => event.checkpointId)).toEqual([1, 2]);
    // A new attempt: the old attempt's timeout of checkpoint 3 does nothing.
    f.host.attempt = 2;
    f.scheduler.advance(1_000);
    expect(f.observations.checkpoints[2]!.outcome).toBe('pending');
    f.host.attempt = 1;
    f.coordinator.expireOldest();
    expect(f.observations.checkpoints[2]!.outcome).toBe('expired');
    f.coordinator.expireOldest(); // nothing pending: nothing happens
    expect(f.observations.checkpointEvents.filter((event) => event.event === 'expired')).toHaveLength(3);

    const timed = fixture({ checkpointTimeoutMs: 500 });
    timed.coordinator.triggerCheckpoint();
    timed.scheduler.advance(499);
    expect(timed.observations.checkpoints[0]!.outcome).toBe('pending');
    timed.scheduler.advance(1);
    expect(timed.observations.checkpoints[0]).toMatchObject({ outcome: 'expired', endedAtMs: 500 });

    const cancelled = fixture({ checkpointTimeoutMs: 500 });
    cancelled.coordinator.triggerCheckpoint();
    cancelled.coordinator.cancelTimeouts();
    cancelled.scheduler.advance(1_000);
    expect(cancelled.observations.checkpoints[0]!.outcome).toBe('pending');
  });

  test('planted bug expiryLeavesCheckpointPending: an expired checkpoint stays pending (and may still complete)', () => {
    const f = fixture({ expiryLeavesCheckpointPending: true });
    f.coordinator.triggerCheckpoint();
    f.coordinator.expireOldest();
    expect(f.observations.checkpoints[0]!.outcome).toBe('expired');
    expect(f.scheduler.records.at(-1)).toBe('Checkpoint 1 of job job-id expired before completing. (planted bug: it stays pending)');
    expect(f.coordinator.pending.has(1)).toBe(true);
    // Other aborts are not affected.
    f.coordinator.onDecline(1, 2, 'no');
    expect(f.coordinator.pending.has(1)).toBe(false);
    expect(f.observations.checkpoints[0]!.outcome).toBe('declined');
  });

  test('a decline aborts the checkpoint in Flink\'s words and tells every task; an abort while not running tells none', () => {
    const f = fixture();
    f.coordinator.triggerCheckpoint();
    f.take();
    f.scheduler.step = 4;
    f.scheduler.nowMs = 40;
    f.coordinator.onDecline(1, 2, 'task not ready');
    expect(f.observations.checkpoints[0]).toMatchObject({ outcome: 'declined', endedAtStep: 4, endedAtMs: 40, reason: 'Decline checkpoint 1 by task attempt-2-1 of job job-id at tm-3. Reason: task not ready' });
    expect(f.scheduler.records.at(-1)).toBe('Decline checkpoint 1 by task attempt-2-1 of job job-id at tm-3. Reason: task not ready');
    expect(f.take()).toEqual(['notify-aborted 1 -> 0', 'notify-aborted 1 -> 1', 'notify-aborted 1 -> 2']);
    expect(f.observations.checkpointEvents.at(-1)).toStrictEqual({ seq: 1, checkpointId: 1, event: 'declined', atStep: 4, atMs: 40 });

    // Over already: a second decline, or an expiry, changes nothing, and a late ack of it is not logged as expired.
    const events = f.observations.checkpointEvents.length;
    const records = f.scheduler.records.length;
    f.coordinator.onDecline(1, 1, 'late');
    f.coordinator.expireCheckpoint(1);
    f.coordinator.onAck(1, 0, snapshotOf(0, 1), [], 'barrier');
    expect(f.observations.checkpointEvents.length).toBe(events);
    expect(f.scheduler.records.length).toBe(records);
    expect(f.observations.checkpoints[0]!.outcome).toBe('declined');
    expect(f.take()).toEqual([]);

    f.coordinator.triggerCheckpoint();
    f.take();
    f.host.running = false;
    f.coordinator.abortAllPending('task crashed');
    expect(f.observations.checkpoints[1]).toMatchObject({ outcome: 'aborted', reason: 'Checkpoint 2 of job job aborted by failover: task crashed' });
    expect(f.observations.checkpointEvents.at(-1)).toMatchObject({ checkpointId: 2, event: 'aborted', cause: 'failover' });
    expect(f.take()).toEqual([]);
  });

  test('a lost notification (fault plan) is observed and not sent, unless the planted bug still delivers it', () => {
    for (const lostNotifyStillDelivered of [false, true]) {
      const f = fixture({ lostNotifyStillDelivered });
      f.coordinator.dropNextNotify = true;
      f.coordinator.triggerCheckpoint();
      f.take();
      f.scheduler.step = 5;
      ackAll(f, 1);
      expect(f.observations.lostMessages).toEqual([{ seq: 2, kind: 'notify-complete', checkpointId: 1, task: 0, atStep: 5 }]);
      expect(f.scheduler.records).toContain('notify-complete 1 to task-0 lost (fault plan)');
      expect(f.take()).toEqual([...(lostNotifyStillDelivered ? ['notify-complete 1 -> 0'] : []), 'notify-complete 1 -> 1', 'notify-complete 1 -> 2']);
      expect(f.coordinator.dropNextNotify).toBe(false);
    }
    const plain = fixture();
    expect(plain.coordinator.dropNextNotify).toBe(false);
  });

  test('an ended non-source task is triggered directly for the pending checkpoints it has not acked, and for later ones', () => {
    const f = fixture({ maxConcurrentCheckpoints: 2 });
    f.coordinator.triggerCheckpoint();
    f.coordinator.triggerCheckpoint();
    f.coordinator.onAck(1, 2, snapshotOf(2, 1), [], 'barrier');
    f.take();
    f.coordinator.onInputEnded(0); // a source: never triggered directly
    expect(f.take()).toEqual([]);
    f.coordinator.onInputEnded(2);
    expect(f.take()).toEqual(['trigger 2 -> 2']);
    expect(() => f.coordinator.onInputEnded(2)).toThrow(new RuntimeInvariantError('task 2 reported its end twice'));
    ackAll(f, 2);
    f.take();
    f.coordinator.triggerCheckpoint();
    expect(f.take()).toEqual(['trigger 3 -> 0', 'trigger 3 -> 1', 'trigger 3 -> 2']);
  });

  test('once every task ended, the final checkpoint is triggered at once; the job finishes when every task heard of it', () => {
    const f = fixture();
    f.coordinator.schedulePeriodicTrigger();
    f.coordinator.triggerCheckpoint();
    f.coordinator.onInputEnded(0);
    f.coordinator.onInputEnded(1);
    f.coordinator.onInputEnded(2);
    // Checkpoint 1 still pending: the final one waits for it.
    expect([...f.coordinator.pending.keys()]).toEqual([1]);
    f.take();
    ackAll(f, 1);
    // Checkpoint 1 covers not all input (triggered before the ends): checkpoint 2 is the final one.
    expect([...f.coordinator.pending.keys()]).toEqual([2]);
    expect(f.take()).toEqual(['notify-complete 1 -> 0', 'notify-complete 1 -> 1', 'notify-complete 1 -> 2', 'trigger 2 -> 0', 'trigger 2 -> 1', 'trigger 2 -> 2']);
    for (const task of [0, 1, 2]) f.coordinator.onNotifyDelivered(1, task);
    expect(f.host.finished).toBe(false);
    ackAll(f, 2);
    f.coordinator.onNotifyDelivered(2, 0);
    f.coordinator.onNotifyDelivered(2, 0);
    f.coordinator.onNotifyDelivered(2, 1);
    expect(f.host.finished).toBe(false);
    expect(f.scheduler.stopped).toBe(false);
    // A later checkpoint covers all input too, and does not move the target: task 2 hears of
    // checkpoint 2 after checkpoint 3 was triggered.
    f.coordinator.triggerCheckpoint();
    expect([...f.coordinator.pending.keys()]).toEqual([3]);
    f.coordinator.onNotifyDelivered(2, 2);
    expect(f.host.finished).toBe(true);
    expect(f.scheduler.stopped).toBe(true);
    expect(f.scheduler.records.at(-1)).toBe('job job finished');
    expect(f.scheduler.pendingTimers()).toEqual(['checkpoint 3 timeout @1000']);
  });

  test('the final checkpoint is triggered when the last task ends with nothing pending, or when the last pending one is aborted', () => {
    const f = fixture();
    f.coordinator.onInputEnded(0);
    f.coordinator.onInputEnded(1);
    expect(f.coordinator.pending.size).toBe(0);
    f.coordinator.onInputEnded(2);
    expect([...f.coordinator.pending.keys()]).toEqual([1]);
    // The final checkpoint aborted: the next one (periodic) covers all input too.
    f.coordinator.onDecline(1, 0, 'no');
    expect(f.coordinator.pending.size).toBe(0);
    f.coordinator.triggerCheckpoint();
    ackAll(f, 2);
    for (const task of [0, 1, 2]) f.coordinator.onNotifyDelivered(2, task);
    expect(f.host.finished).toBe(true);

    // A checkpoint triggered before the last end is aborted: the final one is triggered at once.
    const e = fixture();
    e.coordinator.triggerCheckpoint();
    for (const task of [0, 1, 2]) e.coordinator.onInputEnded(task);
    expect([...e.coordinator.pending.keys()]).toEqual([1]);
    e.coordinator.expireOldest();
    expect([...e.coordinator.pending.keys()]).toEqual([2]);
    ackAll(e, 2);
    for (const task of [0, 1, 2]) e.coordinator.onNotifyDelivered(1, task);
    expect(e.host.finished).toBe(false);
    for (const task of [0, 1, 2]) e.coordinator.onNotifyDelivered(2, task);
    expect(e.host.finished).toBe(true);

    // With room for more checkpoints, the final one still waits for the pending one to end.
    const d = fixture({ maxConcurrentCheckpoints: 2 });
    d.coordinator.triggerCheckpoint();
    for (const task of [0, 1, 2]) d.coordinator.onInputEnded(task);
    expect([...d.coordinator.pending.keys()]).toEqual([1]);
    ackAll(d, 1);
    expect([...d.coordinator.pending.keys()]).toEqual([2]);

    // A new attempt starts over: no task has ended in it.
    const g = fixture();
    for (const task of [0, 1, 2]) g.coordinator.onInputEnded(task);
    g.coordinator.abortAllPending('crash');
    g.host.running = false;
    g.coordinator.startAttempt();
    g.host.running = true;
    g.coordinator.onInputEnded(2);
    expect(g.coordinator.pending.size).toBe(0);
    g.coordinator.triggerCheckpoint();
    expect([...g.coordinator.pending.keys()]).toEqual([2]);
    ackAll(g, 2);
    for (const task of [0, 1, 2]) g.coordinator.onNotifyDelivered(2, task);
    expect(g.host.finished).toBe(false);
  });

  test('periodic trigger: every interval, after the minimum pause since the last checkpoint ended, only in its attempt while running', () => {
    const f = fixture({ checkpointIntervalMs: 100, minPauseBetweenCheckpointsMs: 80, checkpointTimeoutMs: 10_000 });
    f.coordinator.schedulePeriodicTrigger();
    expect(f.scheduler.pendingTimers()).toEqual(['checkpoint trigger @100']);
    f.scheduler.advance(100);
    expect([...f.coordinator.pending.keys()]).toEqual([1]);
    f.scheduler.advance(50);
    ackAll(f, 1); // ended at 150
    f.scheduler.advance(50); // the trigger at 200 is 50 ms after the end: it waits 30 ms more
    expect(f.coordinator.pending.size).toBe(0);
    expect(f.scheduler.pendingTimers()).toEqual(['checkpoint trigger (after the minimum pause) @230']);
    f.scheduler.advance(30);
    expect([...f.coordinator.pending.keys()]).toEqual([2]);
    expect(f.scheduler.pendingTimers()).toEqual(['checkpoint trigger @330', 'checkpoint 2 timeout @10230']);
    ackAll(f, 2); // ended at 230: the pause has passed at 330
    f.scheduler.advance(100);
    expect([...f.coordinator.pending.keys()]).toEqual([3]);
    // Rescheduling replaces the timer; a new attempt or a stopped job silences the old one.
    f.coordinator.schedulePeriodicTrigger();
    expect(f.scheduler.pendingTimers().filter((label) => label.startsWith('checkpoint trigger'))).toEqual(['checkpoint trigger @430']);
    ackAll(f, 3);
    f.host.attempt = 2;
    f.scheduler.advance(500);
    expect(f.observations.checkpoints).toHaveLength(3);
    f.host.attempt = 1;
    f.coordinator.schedulePeriodicTrigger();
    f.host.running = false;
    f.scheduler.advance(500);
    expect(f.observations.checkpoints).toHaveLength(3);
    f.host.running = true;
    f.coordinator.schedulePeriodicTrigger();
    f.coordinator.stopPeriodicTrigger();
    f.scheduler.advance(500);
    expect(f.observations.checkpoints).toHaveLength(3);

    // The pause counts from the end of a checkpoint: before the first one ends, none is waited
    // for, even a pause longer than the interval; a checkpoint that ended at time 0 counts.
    const long = fixture({ checkpointIntervalMs: 100, minPauseBetweenCheckpointsMs: 150, checkpointTimeoutMs: 10_000 });
    long.coordinator.schedulePeriodicTrigger();
    long.scheduler.advance(100);
    expect([...long.coordinator.pending.keys()]).toEqual([1]);
    const atZero = fixture({ checkpointIntervalMs: 100, minPauseBetweenCheckpointsMs: 150, checkpointTimeoutMs: 10_000 });
    atZero.coordinator.triggerCheckpoint();
    atZero.coordinator.onDecline(1, 0, 'no');
    atZero.coordinator.schedulePeriodicTrigger();
    atZero.scheduler.advance(100);
    expect(atZero.coordinator.pending.size).toBe(0);
    expect(atZero.scheduler.pendingTimers()).toEqual(['checkpoint trigger (after the minimum pause) @150']);
    atZero.scheduler.advance(50);
    expect([...atZero.coordinator.pending.keys()]).toEqual([2]);

    // Without a minimum pause, the trigger comes every interval.
    const g = fixture({ checkpointIntervalMs: 100, checkpointTimeoutMs: 10_000 });
    g.coordinator.schedulePeriodicTrigger();
    g.scheduler.advance(100);
    ackAll(g, 1);
    g.scheduler.advance(100);
    expect([...g.coordinator.pending.keys()]).toEqual([2]);
  });

  test('resize: only with nothing pending; the next attempt runs the new number of tasks', () => {
    const f = fixture();
    f.coordinator.triggerCheckpoint();
    expect(() => f.coordinator.resize(2)).toThrow('CheckpointCoordinator: resize with 1 checkpoint(s) pending');
    f.coordinator.abortAllPending('rescale');
    f.coordinator.resize(2);
    f.coordinator.startAttempt();
    f.coordinator.triggerCheckpoint();
    expect(f.observations.checkpoints[1]!.snapshotCauses).toEqual([undefined, undefined]);
    ackAll(f, 2, [0, 1]);
    expect(f.completed).toEqual([2]);
    expect(f.coordinator.store.latest()!.tasks).toHaveLength(2);
  });

  test('restore point: the latest completed checkpoint; planted bug latest-triggered takes a newer partial one, filled from it', () => {
    const f = fixture({ maxConcurrentCheckpoints: 2 });
    expect(f.coordinator.checkpointToRestore()).toBeUndefined();
    f.coordinator.triggerCheckpoint();
    ackAll(f, 1);
    f.coordinator.triggerCheckpoint();
    f.coordinator.onAck(2, 2, snapshotOf(2, 2), [], 'barrier');
    f.coordinator.abortAllPending('crash');
    expect(f.coordinator.checkpointToRestore()).toEqual(f.coordinator.store.latest());
    expect(f.coordinator.checkpointToRestore()!.checkpointId).toBe(1);

    const bug = fixture({ maxConcurrentCheckpoints: 2, restoreFrom: 'latest-triggered' });
    expect(bug.coordinator.checkpointToRestore()).toBeUndefined();
    bug.coordinator.triggerCheckpoint();
    bug.coordinator.onAck(1, 1, snapshotOf(1, 1), [], 'barrier');
    bug.coordinator.abortAllPending('crash');
    // No completed checkpoint: the tasks that never acked start empty.
    expect(bug.coordinator.checkpointToRestore()).toEqual({ checkpointId: 1, triggeredAtStep: 0, completedAtStep: -1, tasks: [{ operatorState: {}, keyedState: {} }, snapshotOf(1, 1), { operatorState: {}, keyedState: {} }] });
    bug.coordinator.triggerCheckpoint();
    ackAll(bug, 2);
    // Completed after the partial one: the completed one.
    expect(bug.coordinator.checkpointToRestore()!.checkpointId).toBe(2);
    bug.coordinator.triggerCheckpoint();
    bug.coordinator.triggerCheckpoint();
    bug.coordinator.onAck(3, 2, snapshotOf(2, 3), [], 'barrier');
    bug.coordinator.abortAllPending('crash'); // 4 had no ack: not a restore point
    expect(bug.coordinator.checkpointToRestore()).toEqual({ checkpointId: 3, triggeredAtStep: 0, completedAtStep: -1, tasks: [snapshotOf(0, 2), snapshotOf(1, 2), snapshotOf(2, 3)] });
  });
});

/**
 * Diagnosis of a finished run, the way the seed operates a Flink job: where backpressure comes
 * from (the first backpressured subtask and the in/out pool usage table), whether keys are
 * skewed (records received and state size per subtask), why checkpoints are slow (the seed's
 * checklist in order, each item answered from what the run measured), and a jobmanager-like
 * and taskmanager-like log that maps an execution attempt id to its task and task manager.
 * It reads only the run's observations (Flink's task metrics and checkpoint details).
 */
import { ExecutionIds } from '../runtime/execution-ids.ts';
import type { SubtaskCheckpointDetail, SubtaskFlowMetrics } from '../runtime/flow-metrics.ts';
import type { RunObservations } from '../runtime/observations.ts';

/** Flink's backpressure levels by backPressuredTimeMsPerSecond: OK up to 10%, LOW up to 50%, HIGH above. */
export const BACKPRESSURE_OK_MAX_MS_PER_SECOND = 100;
export const BACKPRESSURE_LOW_MAX_MS_PER_SECOND = 500;
/** Pool usage (time-averaged) from which the seed's reading calls a buffer pool "high". */
export const POOL_USAGE_HIGH = 0.4;
/** Below this, the fullest input pool among a backpressured subtask's downstream says the downstream keeps up: the sender itself is the root. */
export const POOL_USAGE_ROOT_MIN = 0.25;
/** A subtask receiving this many times the mean of its vertex's subtasks is skewed. */
export const SKEW_RATIO_MIN = 1.5;
/** Fewer records than this per vertex: too few to call a distribution skewed. */
export const SKEW_MIN_RECORDS = 20;
/** A checklist item is flagged when its time is at least this share of the slow checkpoint's duration. */
export const CHECKLIST_SHARE_MIN = 0.25;
/** Full (non-incremental) checkpoints of more state than this (bytes) are flagged by the checklist's backend item. */
export const LARGE_STATE_BYTES = 64 * 1024;

/** Planted bugs of the diagnosis itself (the properties over planted causes must catch them). */
export interface DiagnosisBugs {
  /** Names the first backpressured subtask (the sender) as the root, never its downstream. */
  readonly blameSender?: boolean;
  /** Counts the asynchronous phase as part of the synchronous one. */
  readonly foldAsyncIntoSync?: boolean;
}

/** Planted bugs of the diagnosis, by the name a scenario plants them under. */
export const DIAGNOSIS_BUGS = {
  'diagnosis-blames-sender': { blameSender: true },
  'diagnosis-folds-async-into-sync': { foldAsyncIntoSync: true },
} as const satisfies Record<string, DiagnosisBugs>;

/** The diagnosis bugs a case's planted bug switches on (none for every other bug). */
export function diagnosisBugsFor(bug: string | undefined): DiagnosisBugs {
  return bug !== undefined && Object.hasOwn(DIAGNOSIS_BUGS, bug) ? DIAGNOSIS_BUGS[bug as keyof typeof DIAGNOSIS_BUGS] : {};
}

export type BackpressureLevel = 'OK' | 'LOW' | 'HIGH';

export interface PoolUsageRow {
  readonly task: number;
  readonly name: string;
  readonly metrics: SubtaskFlowMetrics;
  readonly level: BackpressureLevel;
  /** The seed's reading of the in/out pool usage. */
  readonly reading: string;
}

export interface BackpressureDiagnosis {
  readonly rows: readonly PoolUsageRow[];
  /** The first backpressured subtask (undefined: no subtask backpressured). */
  readonly firstBackpressured: number | undefined;
  /** The root cause: the first backpressured subtask or its immediate downstream. */
  readonly rootCause: number | undefined;
  readonly explanation: string;
}

export interface SkewFinding {
  readonly vertex: string;
  readonly tasks: readonly number[];
  readonly recordsReceived: readonly number[];
  /** State size per subtask at the last checkpoint it acknowledged (undefined: none). */
  readonly stateBytes: readonly (number | undefined)[];
  /** The subtask receiving the most, when the vertex is skewed. */
  readonly hotSubtask: number | undefined;
  readonly ratio: number;
}

export type ChecklistItemName = 'source-trigger' | 'incremental-backend' | 'backpressure-or-skew' | 'barrier-alignment' | 'busy-main-thread' | 'sync-phase' | 'async-phase';

export interface ChecklistItem {
  readonly item: ChecklistItemName;
  readonly question: string;
  readonly answer: string;
  readonly flagged: boolean;
  /** Virtual ms the item accounts for at its worst subtask (items measured in time). */
  readonly ms?: number;
  readonly task?: number;
}

export interface SlowCheckpointDiagnosis {
  /** The slowest completed checkpoint (or the slowest of all, when none completed). */
  readonly checkpointId: number;
  readonly durationMs: number;
  readonly details: readonly SubtaskCheckpointDetail[];
  readonly checklist: readonly ChecklistItem[];
  /** The flagged time item that accounts for most of the checkpoint (undefined: nothing stands out). */
  readonly cause: ChecklistItem | undefined;
}

export interface Diagnosis {
  readonly backpressure: BackpressureDiagnosis | undefined;
  readonly skew: readonly SkewFinding[];
  readonly slowCheckpoint: SlowCheckpointDiagnosis | undefined;
  readonly jobManagerLog: readonly string[];
  readonly taskManagerLogs: ReadonlyMap<string, readonly string[]>;
}

export function backpressureLevel(msPerSecond: number): BackpressureLevel {
  if (msPerSecond <= BACKPRESSURE_OK_MAX_MS_PER_SECOND) return 'OK';
  return msPerSecond <= BACKPRESSURE_LOW_MAX_MS_PER_SECOND ? 'LOW' : 'HIGH';
}

/** The seed's reading of one subtask's pool usage. */
export function poolReading(metrics: SubtaskFlowMetrics, isSource: boolean, isSink: boolean): string {
  const inHigh = !isSource && metrics.inPoolUsage >= POOL_USAGE_HIGH;
  const outHigh = !isSink && metrics.outPoolUsage >= POOL_USAGE_HIGH;
  if (inHigh && outHigh) return 'in and out high: backpressured by its downstream, and passing it upstream';
  if (outHigh) return isSource ? 'out high: backpressured by its downstream' : 'out high, in low: backpressured by its downstream (the backpressure still travelling upstream)';
  if (inHigh) return 'in high, out low: likely the root of the backpressure';
  return 'in and out low: fine';
}

export function diagnose(observations: RunObservations, bugs: DiagnosisBugs = {}): Diagnosis {
  const backpressure = diagnoseBackpressure(observations, bugs);
  const skew = diagnoseSkew(observations);
  return {
    backpressure,
    skew,
    slowCheckpoint: diagnoseSlowCheckpoint(observations, backpressure, skew, bugs),
    ...executionLogs(observations),
  };
}

/**
 * The seed's rule: find the first backpressured subtask; the root is it or its immediate
 * downstream. Backpressure shows at the sender: a bottleneck is not backpressured itself,
 * its upstream is, and the upstream's upstream in turn. Walking from the sources down the
 * backpressured subtasks, the first one whose downstream is no longer backpressured is the
 * first backpressured subtask (seen from the bottleneck); the root is its immediate
 * downstream whose input piles up while its output has room (in high, out low), or, when no
 * downstream reads so, the subtask itself (it cannot send as fast as it produces).
 */
export function diagnoseBackpressure(observations: RunObservations, bugs: DiagnosisBugs = {}): BackpressureDiagnosis | undefined {
  const flow = observations.flowMetrics;
  if (flow === undefined) return undefined;
  const subtasks = flow.subtasks;
  const isSource = (task: number): boolean => observations.taskInputCounts[task] === 0;
  const rows = subtasks.map((metrics): PoolUsageRow => ({
    task: metrics.task,
    name: observations.taskNames[metrics.task] ?? `#${metrics.task}`,
    metrics,
    level: backpressureLevel(metrics.backPressuredTimeMsPerSecond),
    reading: poolReading(metrics, isSource(metrics.task), metrics.downstream.length === 0),
  }));
  const backpressured = (task: number): boolean => rows[task]!.level !== 'OK';
  // Walk from the sources down through backpressured subtasks; stop where the downstream is no longer backpressured.
  const frontier: number[] = [];
  const seen = new Set<number>();
  const queue = subtasks.filter((m) => isSource(m.task) && backpressured(m.task)).map((m) => m.task);
  // A backpressured subtask whose upstream is not backpressured starts a region of its own.
  for (const m of subtasks) if (!isSource(m.task) && backpressured(m.task) && !subtasks.some((up) => up.downstream.includes(m.task) && backpressured(up.task))) queue.push(m.task);
  while (queue.length > 0) {
    const task = queue.shift()!;
    if (seen.has(task)) continue;
    seen.add(task);
    const next = subtasks[task]!.downstream.filter(backpressured);
    if (next.length === 0) frontier.push(task);
    else queue.push(...next);
  }
  if (frontier.length === 0) {
    return { rows, firstBackpressured: undefined, rootCause: undefined, explanation: 'no subtask is backpressured (every backPressuredTimeMsPerSecond at most 100, Flink\'s OK)' };
  }
  // Several senders at the edge (a hash exchange): the most backpressured one, then the lowest index.
  const first = frontier.reduce((a, b) => (subtasks[b]!.backPressuredTimeMsPerSecond > subtasks[a]!.backPressuredTimeMsPerSecond ? b : a));
  const firstName = rows[first]!.name;
  if (bugs.blameSender === true) {
    return { rows, firstBackpressured: first, rootCause: first, explanation: `${firstName} is the first backpressured subtask: the root cause (planted bug: its downstream is never read)` };
  }
  // The downstream whose input fills most while its output has room: the seed's "in high, out low".
  const candidates = subtasks[first]!.downstream.filter((task) => subtasks[task]!.inPoolUsage >= POOL_USAGE_ROOT_MIN && !backpressured(task));
  if (candidates.length === 0) {
    return {
      rows,
      firstBackpressured: first,
      rootCause: first,
      explanation: `${firstName} is the first backpressured subtask (${subtasks[first]!.backPressuredTimeMsPerSecond} ms/s); no subtask downstream of it reads "in high, out low", so it is the root itself: it cannot send as fast as it produces`,
    };
  }
  const root = candidates.reduce((a, b) => (subtasks[b]!.inPoolUsage > subtasks[a]!.inPoolUsage ? b : a));
  const rootMetrics = subtasks[root]!;
  return {
    rows,
    firstBackpressured: first,
    rootCause: root,
    explanation:
      `${firstName} is the first backpressured subtask (${subtasks[first]!.backPressuredTimeMsPerSecond} ms/s backpressured); its immediate downstream ${rows[root]!.name} ` +
      `reads in high (${rootMetrics.inPoolUsage}), out low (${rootMetrics.outPoolUsage}), busy ${rootMetrics.busyTimeMsPerSecond} ms/s: the root cause`,
  };
}

/** Per vertex of parallelism > 1: records received per subtask (Flink's Records Received) and state size per subtask; skewed when one subtask receives far more than the mean. */
export function diagnoseSkew(observations: RunObservations): SkewFinding[] {
  const flow = observations.flowMetrics;
  if (flow === undefined) return [];
  const lastStateBytes = new Map<number, number>();
  for (const detail of observations.checkpointDetails ?? []) lastStateBytes.set(detail.task, detail.stateBytes);
  const byVertex = new Map<string, number[]>();
  observations.taskVertices.forEach((vertex, task) => {
    // The metrics cover the final layout: a rescale down leaves names of subtasks that no longer run.
    if (flow.subtasks[task] === undefined) return;
    if (!byVertex.has(vertex.vertex)) byVertex.set(vertex.vertex, []);
    byVertex.get(vertex.vertex)!.push(task);
  });
  const findings: SkewFinding[] = [];
  for (const [vertex, tasks] of byVertex) {
    if (tasks.length < 2 || tasks.every((task) => observations.taskInputCounts[task] === 0)) continue;
    const received = tasks.map((task) => flow.subtasks[task]!.recordsReceived);
    const total = received.reduce((a, b) => a + b, 0);
    const mean = total / tasks.length;
    const max = Math.max(...received);
    const ratio = mean === 0 ? 1 : Math.round((max / mean) * 100) / 100;
    const skewed = total >= SKEW_MIN_RECORDS && ratio >= SKEW_RATIO_MIN;
    findings.push({ vertex, tasks, recordsReceived: received, stateBytes: tasks.map((task) => lastStateBytes.get(task)), hotSubtask: skewed ? tasks[received.indexOf(max)] : undefined, ratio });
  }
  return findings;
}

/** The slowest checkpoint with details, its breakdown per subtask, and the seed's checklist in order. */
export function diagnoseSlowCheckpoint(observations: RunObservations, backpressure: BackpressureDiagnosis | undefined, skew: readonly SkewFinding[], bugs: DiagnosisBugs = {}): SlowCheckpointDiagnosis | undefined {
  const measured = (observations.checkpointDetails ?? []).map((detail) => (bugs.foldAsyncIntoSync === true ? { ...detail, syncMs: detail.syncMs + detail.asyncMs, asyncMs: 0 } : detail));
  // Flink's checkpoint history: the slowest completed checkpoint (one that expired or was declined is the Decline/Expire procedure's case); none completed: every one.
  const completedIds = new Set(observations.checkpoints.filter((c) => c.outcome === 'completed').map((c) => c.checkpointId));
  const completed = measured.filter((detail) => completedIds.has(detail.checkpointId));
  const all = completed.length > 0 ? completed : measured;
  if (all.length === 0) return undefined;
  const durationOf = new Map<number, number>();
  for (const detail of all) durationOf.set(detail.checkpointId, Math.max(durationOf.get(detail.checkpointId) ?? 0, detail.endToEndMs));
  let checkpointId = all[0]!.checkpointId;
  for (const [id, ms] of durationOf) if (ms > durationOf.get(checkpointId)!) checkpointId = id;
  const durationMs = durationOf.get(checkpointId)!;
  const details = all.filter((detail) => detail.checkpointId === checkpointId);
  const names = observations.taskNames;
  const isSource = (task: number): boolean => observations.taskInputCounts[task] === 0;
  const worst = (pick: (detail: SubtaskCheckpointDetail) => number, among: readonly SubtaskCheckpointDetail[] = details): { ms: number; task: number } | undefined => {
    let best: { ms: number; task: number } | undefined;
    for (const detail of among) if (best === undefined || pick(detail) > best.ms) best = { ms: pick(detail), task: detail.task };
    return best;
  };
  const timed = (item: ChecklistItemName, question: string, found: { ms: number; task: number } | undefined, what: string): ChecklistItem => {
    if (found === undefined || found.ms === 0) return { item, question, answer: `no: 0 ms ${what}`, flagged: false, ms: 0 };
    const share = durationMs === 0 ? 0 : found.ms / durationMs;
    const flagged = share >= CHECKLIST_SHARE_MIN;
    return { item, question, answer: `${flagged ? 'yes' : 'no'}: ${found.ms} ms ${what} at ${names[found.task]} (${Math.round(share * 100)}% of ${durationMs} ms)`, flagged, ms: found.ms, task: found.task };
  };
  const settings = observations.settings;
  const totalStateBytes = details.reduce((sum, detail) => sum + detail.stateBytes, 0);
  const incremental = settings.backend === 'rocksdb' && observations.stateBackend !== undefined && observations.stateBackend.checkpoints.some((c) => c.kind === 'incremental');
  const backendItem: ChecklistItem = incremental
    ? { item: 'incremental-backend', question: 'Incremental RocksDB checkpoints used?', answer: `yes: the rocksdb backend uploads only new files (${totalStateBytes} bytes referenced)`, flagged: false }
    : {
        item: 'incremental-backend',
        question: 'Incremental RocksDB checkpoints used?',
        answer: `no: backend ${settings.backend} writes the whole state every checkpoint (${totalStateBytes} bytes)${totalStateBytes > LARGE_STATE_BYTES ? ': large state, use incremental rocksdb checkpoints' : ''}`,
        flagged: totalStateBytes > LARGE_STATE_BYTES,
      };
  const skewed = skew.filter((finding) => finding.hotSubtask !== undefined);
  const pressureItem: ChecklistItem = {
    item: 'backpressure-or-skew',
    question: 'Backpressure or data skew?',
    answer:
      backpressure?.rootCause !== undefined || skewed.length > 0
        ? `yes: ${[backpressure?.rootCause === undefined ? '' : `backpressure rooted at ${names[backpressure.rootCause]}`, ...skewed.map((f) => `${names[f.hotSubtask!]} receives ${f.ratio}x the mean of ${f.vertex}`)].filter((s) => s !== '').join('; ')}`
        : 'no: no subtask backpressured, no vertex skewed',
    flagged: backpressure?.rootCause !== undefined || skewed.length > 0,
  };
  const checklist: ChecklistItem[] = [
    timed('source-trigger', 'Source triggers the checkpoint slowly?', worst((d) => d.triggerDelayMs, details.filter((d) => isSource(d.task))), 'from trigger to the source snapshot'),
    backendItem,
    pressureItem,
    timed('barrier-alignment', 'Barrier alignment slow?', worst((d) => d.alignmentMs), `aligning (${Math.max(0, ...details.map((d) => d.bytesProcessedDuringAlignment))} bytes processed meanwhile)`),
    timed('busy-main-thread', 'Main thread too busy to take the snapshot?', worst((d) => d.barrierQueuedMs), 'the barrier queued behind records'),
    timed('sync-phase', 'Synchronous phase slow?', worst((d) => d.syncMs), 'in the synchronous phase'),
    timed('async-phase', 'Asynchronous phase slow?', worst((d) => d.asyncMs), 'in the asynchronous phase'),
  ];
  const flaggedTimes = checklist.filter((item) => item.flagged && item.ms !== undefined);
  const cause = flaggedTimes.length === 0 ? undefined : flaggedTimes.reduce((a, b) => (b.ms! > a.ms! ? b : a));
  return { checkpointId, durationMs, details, checklist, cause };
}

/**
 * A jobmanager.log-like and taskmanager.log-like view: every execution attempt's id, task and
 * task manager (the seed: find the execution id of a decline in jobmanager.log, then read that
 * task manager's log), with the coordinator's decline and expire messages and each task
 * manager's checkpoint lines.
 */
export function executionLogs(observations: RunObservations): Pick<Diagnosis, 'jobManagerLog' | 'taskManagerLogs'> {
  const named: { executionAttemptId: string; task: number; taskName: string; attempt: number; taskManager: string }[] = [];
  const subtaskIndexes = observations.taskNames.map((name) => Number(/\[(\d+)\]$/.exec(name)?.[1] ?? 0));
  const ids = new ExecutionIds(named, observations.jobName, observations.taskNames, subtaskIndexes);
  const jobManagerLog: string[] = [];
  const taskManagerLogs = new Map<string, string[]>();
  const tmLog = (tm: string): string[] => {
    if (!taskManagerLogs.has(tm)) taskManagerLogs.set(tm, []);
    return taskManagerLogs.get(tm)!;
  };
  for (const restore of observations.restores) {
    jobManagerLog.push(`${restore.atMs} ms  Job ${observations.jobName} (${ids.jobId}) attempt ${restore.attempt}: ${restore.checkpointId === undefined ? 'starting from scratch' : `restoring from checkpoint ${restore.checkpointId}`}.`);
    observations.taskNames.forEach((taskName, task) => {
      const attemptId = ids.executionAttemptId(task, restore.attempt);
      const tm = ids.taskManager(task);
      jobManagerLog.push(`${restore.atMs} ms  Deploying ${taskName} (attempt #${restore.attempt}) with attempt id ${attemptId} to ${tm}.`);
      tmLog(tm).push(`${restore.atMs} ms  Received task ${taskName} (attempt #${restore.attempt}) with attempt id ${attemptId}.`);
    });
  }
  const taskOfAttemptId = new Map(named.map((entry) => [entry.executionAttemptId, entry]));
  for (const checkpoint of observations.checkpoints) {
    if (checkpoint.outcome !== 'declined' && checkpoint.outcome !== 'expired') continue;
    jobManagerLog.push(`${checkpoint.endedAtMs} ms  ${checkpoint.reason}`);
    // The seed's procedure: the execution id in the decline leads to the task manager whose log says why.
    const declined = taskOfAttemptId.get(/by task ([0-9a-f]{32})/.exec(checkpoint.reason)?.[1] ?? '');
    if (declined !== undefined) {
      tmLog(declined.taskManager).push(`${checkpoint.endedAtMs} ms  Declining checkpoint ${checkpoint.checkpointId} of task ${declined.taskName} (attempt id ${declined.executionAttemptId}): ${checkpoint.reason.split('Reason: ')[1] ?? checkpoint.reason}`);
    }
  }
  for (const detail of observations.checkpointDetails ?? []) {
    const tm = ids.taskManager(detail.task);
    tmLog(tm).push(
      `checkpoint ${detail.checkpointId} of ${observations.taskNames[detail.task]} (attempt id ${ids.executionAttemptId(detail.task, detail.attempt)}): ` +
        `sync ${detail.syncMs} ms, async ${detail.asyncMs} ms, alignment ${detail.alignmentMs} ms, state ${detail.stateBytes} bytes`,
    );
  }
  return { jobManagerLog, taskManagerLogs };
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

/** The diagnosis as a user reads it (a report section and `streamcheck diagnose`). */
export function formatDiagnosis(observations: RunObservations, diagnosis: Diagnosis, options: { readonly logs?: boolean } = {}): string[] {
  const names = observations.taskNames;
  const lines: string[] = [];
  const bp = diagnosis.backpressure;
  lines.push('Backpressure (Flink task metrics, virtual time):');
  if (bp === undefined) lines.push('  no metrics measured');
  else {
    lines.push(`  ${pad('subtask', 22)}${pad('level', 6)}${pad('backpressured', 14)}${pad('busy', 6)}${pad('idle', 6)}${pad('inPool', 8)}${pad('outPool', 8)}${pad('recv', 7)}${pad('sent', 7)}reading`);
    for (const row of bp.rows) {
      const m = row.metrics;
      lines.push(
        `  ${pad(row.name, 22)}${pad(row.level, 6)}${pad(`${m.backPressuredTimeMsPerSecond} ms/s`, 14)}${pad(String(m.busyTimeMsPerSecond), 6)}${pad(String(m.idleTimeMsPerSecond), 6)}` +
          `${pad(m.inPoolUsage.toFixed(2), 8)}${pad(m.outPoolUsage.toFixed(2), 8)}${pad(String(m.recordsReceived), 7)}${pad(String(m.recordsSent), 7)}${row.reading}`,
      );
    }
    lines.push(`  root cause: ${bp.rootCause === undefined ? 'none' : names[bp.rootCause]}: ${bp.explanation}`);
  }
  lines.push('Skew (records received and state size per subtask):');
  if (diagnosis.skew.length === 0) lines.push('  no vertex with parallelism > 1 behind an exchange');
  for (const finding of diagnosis.skew) {
    const perSubtask = finding.tasks.map((task, i) => `${names[task]} ${finding.recordsReceived[i]} records${finding.stateBytes[i] === undefined ? '' : `, ${finding.stateBytes[i]} state bytes`}`).join('; ');
    lines.push(`  ${finding.vertex}: ${finding.hotSubtask === undefined ? 'balanced' : `skewed: ${names[finding.hotSubtask]} receives ${finding.ratio}x the mean`} (${perSubtask})`);
  }
  const slow = diagnosis.slowCheckpoint;
  lines.push('Slow checkpoints (the seed\'s checklist, in order):');
  if (slow === undefined) lines.push('  no checkpoint acknowledged');
  else {
    lines.push(`  slowest: checkpoint ${slow.checkpointId}, ${slow.durationMs} ms from trigger to the last acknowledgement`);
    lines.push(`    ${pad('subtask', 22)}${pad('trigger', 9)}${pad('queued', 8)}${pad('align', 7)}${pad('sync', 6)}${pad('async', 7)}${pad('alignBytes', 12)}${pad('state', 9)}end-to-end`);
    for (const d of slow.details) {
      lines.push(`    ${pad(names[d.task] ?? '?', 22)}${pad(String(d.triggerDelayMs), 9)}${pad(String(d.barrierQueuedMs), 8)}${pad(String(d.alignmentMs), 7)}${pad(String(d.syncMs), 6)}${pad(String(d.asyncMs), 7)}${pad(String(d.bytesProcessedDuringAlignment), 12)}${pad(String(d.stateBytes), 9)}${d.endToEndMs}`);
    }
    slow.checklist.forEach((item, i) => lines.push(`  ${i + 1}. ${item.question} ${item.answer}`));
    lines.push(`  cause: ${slow.cause === undefined ? 'nothing stands out' : `${slow.cause.item} at ${names[slow.cause.task!]} (${slow.cause.ms} ms of ${slow.durationMs} ms)`}`);
  }
  if (options.logs === true) {
    lines.push('jobmanager.log:');
    for (const line of diagnosis.jobManagerLog) lines.push(`  ${line}`);
    for (const [tm, log] of [...diagnosis.taskManagerLogs].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))) {
      lines.push(`taskmanager.log of ${tm}:`);
      for (const line of log) lines.push(`  ${line}`);
    }
  }
  return lines;
}

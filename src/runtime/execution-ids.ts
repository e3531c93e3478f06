/**
 * Flink's identifiers in the coordinator's messages, for a simulated run: a JobID and an
 * ExecutionAttemptID are 32 hex digits. Here they are derived from the case (the job name,
 * and job name + attempt + task), so the same case always prints the same ids, and each task
 * runs on a simulated task manager: one slot per task manager, and slot sharing puts subtask i
 * of every vertex into slot i, so subtask i runs on tm-<i + 1>.
 */
export interface ExecutionAttemptEntry {
  readonly executionAttemptId: string;
  readonly task: number;
  readonly taskName: string;
  readonly attempt: number;
  readonly taskManager: string;
}

export class ExecutionIds {
  readonly jobId: string;
  private readonly namedIds = new Set<string>();

  constructor(
    /** The execution attempts named so far, in order (a report maps the ids of its messages back to tasks). */
    readonly named: ExecutionAttemptEntry[],
    private readonly jobName: string,
    private readonly taskNames: readonly string[],
    private readonly subtaskIndexes: readonly number[],
  ) {
    this.jobId = jobIdOf(jobName);
  }

  executionAttemptId(task: number, attempt: number): string {
    const executionAttemptId = hex128(`attempt/${this.jobName}/${attempt}/${this.taskNames[task]}`);
    if (!this.namedIds.has(executionAttemptId)) {
      this.namedIds.add(executionAttemptId);
      this.named.push({ executionAttemptId, task, taskName: this.taskNames[task] ?? `#${task}`, attempt, taskManager: this.taskManager(task) });
    }
    return executionAttemptId;
  }

  taskManager(task: number): string {
    return `tm-${(this.subtaskIndexes[task] ?? 0) + 1}`;
  }
}

/** The JobID of a job, from its name. */
export function jobIdOf(jobName: string): string {
  return hex128(`job/${jobName}`);
}

/** 32 hex digits from a string: four FNV-1a hashes with different offsets (deterministic, not cryptographic). */
export function hex128(text: string): string {
  let out = '';
  for (const offset of [0x811c9dc5, 0x01000193, 0x9e3779b9, 0x85ebca6b]) {
    let hash = offset >>> 0;
    for (let i = 0; i < text.length; i++) {
      hash ^= text.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193) >>> 0;
    }
    hash ^= hash >>> 16;
    hash = Math.imul(hash, 0x7feb352d) >>> 0;
    hash ^= hash >>> 15;
    out += (hash >>> 0).toString(16).padStart(8, '0');
  }
  return out;
}

/** Wall-clock ms between two progress lines: often enough to see movement, rarely enough to cost nothing. */
export const PROGRESS_INTERVAL_MS = 250;

export interface ProgressFigures {
  readonly label: string;
  readonly done: number;
  readonly total: number;
  readonly faultsReached: number;
  readonly elapsedMs: number;
}

export function formatProgress(figures: ProgressFigures): string {
  const perSecond = figures.elapsedMs > 0 ? (figures.done * 1000) / figures.elapsedMs : 0;
  const leftSeconds = perSecond > 0 ? (figures.total - figures.done) / perSecond : Number.NaN;
  const left = Number.isFinite(leftSeconds) ? `~${formatSeconds(leftSeconds)} left` : 'time left unknown';
  return `${figures.label}: ${figures.done.toLocaleString('en-US')}/${figures.total.toLocaleString('en-US')} cases, ${Math.round(perSecond).toLocaleString('en-US')} cases/s, ${figures.faultsReached.toLocaleString('en-US')} faults reached, ${left}`;
}

function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  return `${Math.floor(seconds / 60)}m${String(Math.ceil(seconds % 60)).padStart(2, '0')}s`;
}

/**
 * Rewrites one status line on a terminal (carriage return, no newline) at most every
 * PROGRESS_INTERVAL_MS; `write` is only given when stderr is a TTY and output is not JSON.
 */
export class ProgressLine {
  private lastShownMs = Number.NEGATIVE_INFINITY;
  private shown = false;
  constructor(
    private readonly write: (text: string) => void,
    private readonly nowMs: () => number = () => performance.now(),
  ) {}

  update(figures: Omit<ProgressFigures, 'elapsedMs'>, startedMs: number): void {
    const now = this.nowMs();
    if (now - this.lastShownMs < PROGRESS_INTERVAL_MS && figures.done < figures.total) return;
    this.lastShownMs = now;
    this.shown = true;
    this.write(`\r\u001b[2K${formatProgress({ ...figures, elapsedMs: now - startedMs })}`);
  }

  /** Clears the line so the report that follows starts on a clean one. */
  clear(): void {
    if (this.shown) this.write('\r\u001b[2K');
    this.shown = false;
  }
}

/**
 * SIGINT / SIGTERM during e2e: stop what was started (brokers, redis-server, their data) and
 * exit 128 + the signal's number, as a shell does. Without handlers Node would die at once; the
 * services' watchdogs would still stop them, but their data directories would stay behind.
 */
export class Interruption {
  signal: NodeJS.Signals | undefined;
  private readonly waiters = new Set<(signal: NodeJS.Signals) => void>();
  private readonly handler = (signal: NodeJS.Signals): void => {
    if (this.signal !== undefined) process.exit(signalExitCode(signal)); // a second signal: no more waiting
    this.signal = signal;
    for (const waiter of this.waiters) waiter(signal);
  };

  constructor() {
    process.on('SIGINT', this.handler);
    process.on('SIGTERM', this.handler);
  }

  /** Resolves with `work`, or on a signal runs `cleanup(work)` and throws Interrupted. */
  async race<T>(work: Promise<T>, cleanup?: (pending: Promise<T>) => Promise<void>): Promise<T> {
    let waiter: ((signal: NodeJS.Signals) => void) | undefined;
    const interrupted = new Promise<never>((_, reject) => {
      waiter = (signal) => reject(new Interrupted(signal));
      this.waiters.add(waiter);
    });
    try {
      return await Promise.race([work, interrupted]);
    } catch (error) {
      if (error instanceof Interrupted) await cleanup?.(work);
      throw error;
    } finally {
      this.waiters.delete(waiter!);
      interrupted.catch(() => undefined);
    }
  }

  dispose(): void {
    process.off('SIGINT', this.handler);
    process.off('SIGTERM', this.handler);
  }
}

export class Interrupted extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`e2e: interrupted by ${signal}; started services stopped`);
    this.name = 'Interrupted';
  }
}

export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (signal === 'SIGINT' ? 2 : 15);
}

/**
 * Where end-to-end runs find Kafka and Redis. Providers are tried in order:
 * given endpoints (environment), Testcontainers (when a Docker engine answers),
 * local processes (java + Kafka jars, redis-server).
 */
export interface ServiceEndpoints {
  /** host:port list for kafkajs `brokers`. */
  readonly kafkaBrokers: readonly string[];
  /** redis://host:port/db for ioredis. */
  readonly redisUrl: string;
}

/** A service process the provider started, for tests that kill and restart it. */
export interface ServiceProcessControl {
  /** The service's own process id (not its watchdog's); undefined while it is not running. */
  pid(): Promise<number | undefined>;
  /** Sends `signal` (default SIGKILL) to the service by PID and waits until it is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again with the same command line, ports and data directory; resolves once it answers. */
  restart(): Promise<void>;
}

export interface RunningServices extends ServiceEndpoints {
  /** Which provider supplied them, for reports: 'endpoints' | 'testcontainers' | 'local'. */
  readonly provider: string;
  /** The processes behind them when this provider started them (local provider); Redis is absent when an existing one was used. */
  readonly processes?: { readonly kafka: ServiceProcessControl; readonly redis?: ServiceProcessControl };
  /** Stops whatever the provider started and deletes its data. Idempotent. */
  stop(): Promise<void>;
}

/** Returned instead of services when a provider cannot supply them; `reason` names the cause. */
export interface Unavailable {
  readonly unavailable: true;
  readonly reason: string;
}

export interface ServiceProvider {
  readonly name: string;
  start(options: { readonly timeoutMs: number; readonly log: (line: string) => void }): Promise<RunningServices | Unavailable>;
}

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

export interface RunningServices extends ServiceEndpoints {
  /** Which provider supplied them, for reports: 'endpoints' | 'testcontainers' | 'local'. */
  readonly provider: string;
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

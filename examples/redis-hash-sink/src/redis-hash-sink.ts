import type { RedisClient, SinkWriter, TestRecord } from 'streamcheck';

/**
 * Writes each key's newest value into one Redis hash (HSET), buffered and flushed on every
 * checkpoint: idempotent, because a replay after a restore sets the same values again.
 */
export class RedisHashSink implements SinkWriter<TestRecord> {
  private buffer = new Map<string, string>();

  constructor(private readonly redis: RedisClient, private readonly hash: string, private readonly maxBuffered = 8) {}

  initializeState(): void {
    this.buffer.clear();
  }

  write(record: TestRecord): Promise<void> | void {
    this.buffer.set(record.key, record.value);
    if (this.buffer.size >= this.maxBuffered) return this.flush();
  }

  snapshotState(): Promise<void> | void {
    return this.flush();
  }

  finish(): Promise<void> | void {
    return this.flush();
  }

  protected flush(): Promise<void> | void {
    if (this.buffer.size === 0) return;
    const fields = Object.fromEntries(this.buffer);
    this.buffer = new Map();
    return this.redis.hset(this.hash, fields).then(() => undefined);
  }
}

/** The bug a suite must catch: counts records with HINCRBY, so a replay counts them twice. */
export class RedisHashCountSink implements SinkWriter<TestRecord> {
  constructor(private readonly redis: RedisClient, private readonly hash: string) {}

  write(record: TestRecord): Promise<void> {
    return this.redis.hincrby(this.hash, record.key, 1).then(() => undefined);
  }
}

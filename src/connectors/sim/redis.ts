import type { Scheduler } from '../../sim/scheduler.ts';
import { SimulatedIoError } from '../../sim/scheduler.ts';
import type { RedisClient } from '../redis-api.ts';

/** The simulated Redis server: a string key-value store that outlives job restarts. */
export class SimRedisServer {
  readonly data = new Map<string, string>();
  /** Commands applied, for reports. */
  commandsApplied = 0;

  /** A client whose calls complete when the scheduler says so, in order on its connection. */
  client(scheduler: Scheduler, connectionName: string): RedisClient {
    return new SimRedisClient(this, scheduler, connectionName);
  }

  snapshot(): Record<string, string> {
    return Object.fromEntries([...this.data.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
}

class SimRedisClient implements RedisClient {
  constructor(
    private readonly server: SimRedisServer,
    private readonly scheduler: Scheduler,
    private readonly connection: string,
  ) {}

  get(key: string): Promise<string | null> {
    return this.scheduler.io(this.connection, `redis GET ${key}`, () => this.server.data.get(key) ?? null);
  }

  set(key: string, value: string): Promise<'OK'> {
    return this.scheduler.io(this.connection, `redis SET ${key}`, () => {
      this.server.data.set(key, value);
      this.server.commandsApplied++;
      return 'OK' as const;
    });
  }

  mset(entries: Record<string, string>): Promise<'OK'> {
    const keys = Object.keys(entries);
    return this.scheduler.io(this.connection, `redis MSET ${keys.join(' ')}`, () => {
      for (const key of keys) this.server.data.set(key, entries[key]!);
      this.server.commandsApplied++;
      return 'OK' as const;
    });
  }

  incrby(key: string, increment: number): Promise<number> {
    return this.scheduler.io(this.connection, `redis INCRBY ${key} ${increment}`, () => {
      const current = this.server.data.get(key) ?? '0';
      const parsed = Number(current);
      if (!Number.isSafeInteger(parsed)) throw new SimulatedIoError(`ERR value is not an integer or out of range`, 'ERR');
      const next = parsed + increment;
      this.server.data.set(key, String(next));
      this.server.commandsApplied++;
      return next;
    });
  }

  del(...keys: string[]): Promise<number> {
    return this.scheduler.io(this.connection, `redis DEL ${keys.join(' ')}`, () => {
      let deleted = 0;
      for (const key of keys) if (this.server.data.delete(key)) deleted++;
      this.server.commandsApplied++;
      return deleted;
    });
  }

  keys(pattern: string): Promise<string[]> {
    if (!pattern.endsWith('*') || pattern.slice(0, -1).includes('*')) {
      return Promise.reject(new Error(`SimRedis KEYS: only 'prefix*' patterns are simulated, got '${pattern}'`));
    }
    const prefix = pattern.slice(0, -1);
    return this.scheduler.io(this.connection, `redis KEYS ${pattern}`, () => [...this.server.data.keys()].filter((key) => key.startsWith(prefix)).sort());
  }
}

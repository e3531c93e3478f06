import { REDIS_COMMANDS, redisBatch, type RedisClient } from '../redis-api.ts';
import type { SimEnvironment, SimService, SimServiceOptions } from './environment.ts';
import { RedisModel, UnsupportedRedisCommandError } from './redis-model.ts';

export { RedisModel, RedisReplyError, UnsupportedRedisCommandError } from './redis-model.ts';

/** What the server holds: strings as strings, hashes as records of their fields. */
export type RedisSnapshot = Record<string, string | Record<string, string>>;

/**
 * The simulated Redis server: `RedisModel` put under the scheduler by a `SimEnvironment`,
 * like any connector author's own model. It outlives job restarts; every client call is a
 * scheduler step on its connection, subject to the environment's call faults.
 */
export class SimRedisServer {
  readonly model: RedisModel;
  private readonly service: SimService<RedisModel>;

  constructor(environment: SimEnvironment, options: SimServiceOptions & { readonly name?: string } = {}) {
    this.model = new RedisModel(() => environment.nowMs);
    const { name = 'redis', ...serviceOptions } = options;
    this.service = environment.service(name, this.model, serviceOptions);
  }

  /** Commands applied, for reports. */
  get commandsApplied(): number {
    return this.model.commandsApplied;
  }

  /** A client (ioredis's names and replies) whose calls complete when the scheduler says so, in order on its connection. */
  client(connectionName: string): RedisClient {
    const calls = this.service.connect(connectionName);
    // Commands are own properties; only a name the client lacks reaches the rejecting prototype (no proxy on the hot path).
    // The prototype is set once they are in: each assignment would otherwise consult the proxy
    // (an object's [[Set]] walks its prototype chain), about twice the cost of the whole client.
    const client: Record<string, unknown> = {};
    client['multi'] = () => withUnsupportedCommands(redisBatch((commands) => calls.execMulti(commands)), UNSUPPORTED_MULTI_COMMANDS);
    client['pipeline'] = () => withUnsupportedCommands(redisBatch((commands) => calls.execPipeline(commands)), UNSUPPORTED_PIPELINE_COMMANDS);
    for (const name of REDIS_COMMANDS) client[name] = calls[name];
    return Object.setPrototypeOf(client, UNSUPPORTED_CLIENT_COMMANDS) as RedisClient;
  }

  /** What the server holds now, keys sorted (read directly: not a scheduler step). */
  snapshot(): RedisSnapshot {
    return this.model.snapshot();
  }

  /**
   * The snapshot of a store that must hold only strings; a hash key is a broken assumption of
   * the caller. `snapshot`: one already taken (a judge and the output share the store after a run).
   */
  stringSnapshot(snapshot: RedisSnapshot = this.snapshot()): Record<string, string> {
    for (const key in snapshot) {
      if (typeof snapshot[key] !== 'string') throw new Error(`SimRedisServer.stringSnapshot: key '${key}' holds a hash, not a string`);
    }
    return snapshot as Record<string, string>;
  }
}

/**
 * A command name the client does not implement (`client.hscan(...)` from JavaScript, or
 * past a cast) fails naming the command, instead of "is not a function": a client call
 * rejects, a command queued in a MULTI or pipeline throws at once. Used as the prototype of
 * clients and batches, so it sees only names they do not have.
 */
function unsupportedCommands(where: 'client' | 'multi()' | 'pipeline()'): object {
  return new Proxy(Object.create(null) as object, {
    get(_inner, property) {
      // Only command-like names: symbols, `then` (await probes it) and the like stay undefined.
      if (typeof property !== 'string' || !/^[a-z][a-z0-9]*$/.test(property) || property === 'then') return undefined;
      const error = (): UnsupportedRedisCommandError =>
        new UnsupportedRedisCommandError(`Redis command ${property.toUpperCase()} (${where}) is not supported by the simulation; supported: ${REDIS_COMMANDS.join(', ')}, multi, pipeline`);
      return where === 'client'
        ? () => Promise.reject(error())
        : () => {
            throw error();
          };
    },
  });
}

const UNSUPPORTED_CLIENT_COMMANDS = unsupportedCommands('client');
const UNSUPPORTED_MULTI_COMMANDS = unsupportedCommands('multi()');
const UNSUPPORTED_PIPELINE_COMMANDS = unsupportedCommands('pipeline()');

function withUnsupportedCommands<T extends object>(batch: T, prototype: object): T {
  Object.setPrototypeOf(batch, prototype);
  return batch;
}

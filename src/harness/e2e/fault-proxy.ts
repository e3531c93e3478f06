import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';

/** Connections a proxy keeps open at once; more are refused (a bound, not a tuning knob). */
const MAX_CONNECTIONS = 256;
const LISTEN_TIMEOUT_MS = 5_000;

/**
 * An in-process TCP proxy on 127.0.0.1 between a client and a server, for end-to-end faults:
 * `cut()` destroys every open connection (as a network failure would; clients reconnect
 * through the proxy), `stall(ms)` holds all traffic for a while. Used for Redis, whose
 * clients connect to exactly the address they are given (Kafka's clients follow the
 * broker's advertised listeners, so a Kafka proxy would also need the broker to advertise it).
 */
export class FaultProxy {
  private readonly connections = new Set<{ client: Socket; upstream: Socket }>();
  private stalledUntilMs = 0;
  /** Connections cut so far. */
  cutConnections = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetHost: string, targetPort: number): Promise<FaultProxy> {
    let proxy: FaultProxy | undefined;
    const server = createServer((client) => proxy!.accept(client, targetHost, targetPort));
    server.maxConnections = MAX_CONNECTIONS;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`FaultProxy: not listening within ${LISTEN_TIMEOUT_MS} ms`)), LISTEN_TIMEOUT_MS);
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    proxy = new FaultProxy(server, (server.address() as AddressInfo).port);
    return proxy;
  }

  /** A proxy in front of the Redis a redis:// URL names (port 6379 when the URL gives none). */
  static inFrontOf(redisUrl: string): Promise<FaultProxy> {
    const url = new URL(redisUrl);
    return FaultProxy.start(url.hostname === 'localhost' ? '127.0.0.1' : url.hostname, Number(url.port || 6379));
  }

  /** The proxy's address in place of `url`'s host:port, e.g. for a redis:// URL. */
  rewriteUrl(url: string): string {
    const parsed = new URL(url);
    parsed.hostname = '127.0.0.1';
    parsed.port = String(this.port);
    return parsed.toString();
  }

  cut(): void {
    for (const connection of this.connections) {
      connection.client.destroy();
      connection.upstream.destroy();
      this.cutConnections++;
    }
    this.connections.clear();
  }

  stall(durationMs: number): void {
    if (!(durationMs >= 0)) throw new Error(`FaultProxy.stall: durationMs must be >= 0, got ${durationMs}`);
    this.stalledUntilMs = Date.now() + durationMs;
    for (const { client, upstream } of this.connections) {
      client.pause();
      upstream.pause();
    }
    setTimeout(() => {
      if (Date.now() < this.stalledUntilMs) return;
      for (const { client, upstream } of this.connections) {
        client.resume();
        upstream.resume();
      }
    }, durationMs).unref();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket, targetHost: string, targetPort: number): void {
    const upstream = connect(targetPort, targetHost);
    const connection = { client, upstream };
    this.connections.add(connection);
    const drop = (): void => {
      this.connections.delete(connection);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
    if (Date.now() < this.stalledUntilMs) {
      client.pause();
      upstream.pause();
    }
  }
}

/**
 * The 'local' service provider: a single-node KRaft Kafka broker run from Maven Central's
 * jars (fetched by .ci/kafka-jars.sh into a cache) with the machine's `java`, and Redis, either
 * the one already answering on 127.0.0.1:6379 or a `redis-server` of our own on a free port.
 * Everything listens on 127.0.0.1 only; every wait is bounded.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { KafkajsClients } from '../../../connectors/real/kafka-clients.ts';
import { loadIoredis } from '../../../connectors/real/ioredis-client.ts';
import type { RunningServices, ServiceProcessControl, ServiceProvider, Unavailable } from './types.ts';

/** The Kafka version .ci/kafka-jars.sh fetches by default (newest 3.9.x on Maven Central). */
export const LOCAL_KAFKA_VERSION = process.env['STREAMCHECK_KAFKA_VERSION'] ?? '3.9.2';
const JARS_SCRIPT = fileURLToPath(new URL('../../../../.ci/kafka-jars.sh', import.meta.url));
const JARS_COMPLETE_MARKER = '.streamcheck-complete';

export const LOCAL_DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379/0';
const LOOPBACK = '127.0.0.1';

export interface LocalProviderOptions {
  /** Where the broker jars are (default: the cache directory of .ci/kafka-jars.sh). */
  readonly kafkaLibsDir?: string;
  /** Run .ci/kafka-jars.sh when the jars are missing (default true). */
  readonly fetchJarsWhenMissing?: boolean;
  /** Bound on that fetch (default 300 000 ms; a warm run takes milliseconds, a cold one seconds). */
  readonly jarFetchTimeoutMs?: number;
  /** Broker heap (default 512m). */
  readonly kafkaHeap?: string;
  /** Use this Redis instead of probing 127.0.0.1:6379 (e.g. to force our own with `null`). */
  readonly redisUrl?: string | null;
  /** Our own redis-server writes an fsync'd append-only file, so a killed and restarted one keeps what it acknowledged (default false). */
  readonly redisPersistence?: boolean;
}

export function defaultKafkaLibsDir(): string {
  const fromEnv = process.env['STREAMCHECK_KAFKA_LIBS'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const cacheDir = process.env['STREAMCHECK_CACHE_DIR'] || join(homedir(), '.cache', 'streamcheck');
  return join(cacheDir, `kafka-${LOCAL_KAFKA_VERSION}`, 'libs');
}

export function localProvider(providerOptions: LocalProviderOptions = {}): ServiceProvider {
  return {
    name: 'local',
    start: (options) => startLocalServices(providerOptions, options),
  };
}

// ---------------------------------------------------------------------------------------------

type Log = (line: string) => void;

class Unavailability extends Error {}

async function startLocalServices(
  providerOptions: LocalProviderOptions,
  { timeoutMs, log }: { readonly timeoutMs: number; readonly log: Log },
): Promise<RunningServices | Unavailable> {
  const cleanup = new Cleanup();
  try {
    const java = javaCommand();
    await checkJava(java);
    const libsDir = await ensureKafkaJars(providerOptions, log);
    const redis = await startRedis(providerOptions, cleanup, log);
    const kafka = await startKafka({ java, libsDir, heap: providerOptions.kafkaHeap ?? '512m', timeoutMs, log, cleanup });
    let stopped: Promise<void> | undefined;
    return {
      provider: 'local',
      kafkaBrokers: [kafka.bootstrap],
      redisUrl: redis.url,
      processes: { kafka: kafka.control, ...(redis.control === undefined ? {} : { redis: redis.control }) },
      stop: () => (stopped ??= cleanup.run(log)),
    };
  } catch (error) {
    await cleanup.run(log);
    if (error instanceof Unavailability) return { unavailable: true, reason: `local: ${error.message}` };
    throw error;
  }
}

/** Things to undo, last first. */
class Cleanup {
  private readonly steps: { name: string; run: () => Promise<void> }[] = [];

  add(name: string, run: () => Promise<void>): void {
    this.steps.push({ name, run });
  }

  async run(log: Log): Promise<void> {
    while (this.steps.length > 0) {
      const step = this.steps.pop()!;
      try {
        await step.run();
      } catch (error) {
        log(`local: cleanup '${step.name}' failed: ${(error as Error).message}`);
      }
    }
  }
}

// --------------------------------------------------------------------------------------------- java + jars

function javaCommand(): string {
  const javaHome = process.env['JAVA_HOME'];
  if (javaHome !== undefined && javaHome !== '' && existsSync(join(javaHome, 'bin', 'java'))) return join(javaHome, 'bin', 'java');
  return 'java';
}

async function checkJava(java: string): Promise<void> {
  try {
    await run(java, ['-version'], { timeoutMs: 15_000 });
  } catch (error) {
    throw new Unavailability(`no usable java (${java}): ${(error as Error).message}`);
  }
}

async function ensureKafkaJars(providerOptions: LocalProviderOptions, log: Log): Promise<string> {
  const libsDir = providerOptions.kafkaLibsDir ?? defaultKafkaLibsDir();
  if (existsSync(join(libsDir, JARS_COMPLETE_MARKER))) return libsDir;
  if (providerOptions.fetchJarsWhenMissing === false) {
    throw new Unavailability(`no Kafka jars in ${libsDir} (run: bash .ci/kafka-jars.sh)`);
  }
  if (!existsSync(JARS_SCRIPT)) {
    // The fetch script is part of the streamcheck repository, not of the installed package.
    throw new Unavailability(`no Kafka jars in ${libsDir}, and no ${JARS_SCRIPT} to fetch them (set STREAMCHECK_KAFKA_LIBS to a Kafka ${LOCAL_KAFKA_VERSION} libs directory)`);
  }
  log(`local: Kafka jars missing in ${libsDir}; running .ci/kafka-jars.sh`);
  const startedMs = Date.now();
  try {
    await run('bash', [JARS_SCRIPT], {
      timeoutMs: providerOptions.jarFetchTimeoutMs ?? 300_000,
      env: { ...process.env, STREAMCHECK_KAFKA_LIBS: libsDir, STREAMCHECK_KAFKA_VERSION: LOCAL_KAFKA_VERSION },
    });
  } catch (error) {
    throw new Unavailability(`fetching Kafka jars failed: ${(error as Error).message}`);
  }
  log(`local: Kafka jars fetched in ${((Date.now() - startedMs) / 1000).toFixed(1)} s`);
  if (!existsSync(join(libsDir, JARS_COMPLETE_MARKER))) throw new Unavailability(`.ci/kafka-jars.sh finished but ${libsDir} is incomplete`);
  return libsDir;
}

// --------------------------------------------------------------------------------------------- Kafka

interface StartedKafka {
  readonly bootstrap: string;
  readonly control: ServiceProcessControl;
}

const BROKER_LOG_TAIL_LINES = 40;
const BROKER_STOP_GRACE_MS = 10_000;
const READINESS_POLL_INTERVAL_MS = 250;

async function startKafka(args: {
  java: string;
  libsDir: string;
  heap: string;
  timeoutMs: number;
  log: Log;
  cleanup: Cleanup;
}): Promise<StartedKafka> {
  const { java, libsDir, heap, timeoutMs, log, cleanup } = args;
  const startedMs = Date.now();
  const deadlineMs = startedMs + timeoutMs;
  const dataDir = await mkdtemp(join(tmpdir(), 'streamcheck-kafka-'));
  cleanup.add('delete Kafka data', () => rm(dataDir, { recursive: true, force: true }));

  const [brokerPort, controllerPort] = await freeLoopbackPorts(2);
  const bootstrap = `${LOOPBACK}:${brokerPort}`;
  const serverProperties = join(dataDir, 'server.properties');
  const log4jProperties = join(dataDir, 'log4j.properties');
  const brokerLog = join(dataDir, 'broker.log');
  await writeFile(serverProperties, kafkaServerProperties({ brokerPort: brokerPort!, controllerPort: controllerPort!, logDir: join(dataDir, 'log') }));
  // To stderr, so the tools' stdout carries only their answer (random-uuid prints the id there).
  await writeFile(log4jProperties, LOG4J_PROPERTIES);

  const jvmArgs = [`-Xmx${heap}`, '-Xms128m', '-Djava.awt.headless=true', `-Dlog4j.configuration=file:${log4jProperties}`, '-cp', join(libsDir, '*')];
  const remainingMs = (): number => Math.max(1, deadlineMs - Date.now());

  const uuidOutput = await run(java, [...jvmArgs, 'kafka.tools.StorageTool', 'random-uuid'], { timeoutMs: remainingMs() }).catch((error: Error) => {
    throw new Unavailability(`kafka.tools.StorageTool random-uuid failed: ${error.message}`);
  });
  const clusterId = uuidOutput.stdout.split(/\s+/).find((token) => /^[A-Za-z0-9_-]{22}$/.test(token));
  if (clusterId === undefined) throw new Unavailability(`kafka.tools.StorageTool random-uuid printed no cluster id: ${uuidOutput.stdout.slice(0, 200)}`);
  await run(java, [...jvmArgs, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', serverProperties], { timeoutMs: remainingMs() }).catch((error: Error) => {
    throw new Unavailability(`kafka.tools.StorageTool format failed: ${error.message}`);
  });

  const spawnBroker = (): TiedChild => {
    const logFd = openSync(brokerLog, 'a');
    const started = spawnTiedToThisProcess(java, [...jvmArgs, 'kafka.Kafka', serverProperties], { cwd: dataDir, outputFd: logFd, stopGraceMs: BROKER_STOP_GRACE_MS });
    closeSync(logFd);
    return started;
  };
  let broker = spawnBroker();
  cleanup.add('stop Kafka broker', () => broker.stop());
  log(`local: Kafka ${LOCAL_KAFKA_VERSION} broker (wrapper pid ${broker.pid}) on ${bootstrap} (data ${dataDir})`);

  const failure = (what: string): Unavailability =>
    new Unavailability(`${what}\n--- last ${BROKER_LOG_TAIL_LINES} lines of ${brokerLog} ---\n${tailOfFile(brokerLog, BROKER_LOG_TAIL_LINES)}`);

  // Ready = a transactional producer can register: the transaction coordinator and its
  // __transaction_state topic are up, which is what every e2e test needs first.
  const awaitReady = async (readyDeadlineMs: number): Promise<void> => {
    let lastError = 'not tried';
    const remaining = (): number => Math.max(1, readyDeadlineMs - Date.now());
    for (;;) {
      if (broker.exitedWith !== undefined) throw failure(`Kafka broker exited (${broker.exitedWith}) before it was ready`);
      if (Date.now() >= readyDeadlineMs) throw failure(`Kafka broker on ${bootstrap} not ready in time (last error: ${lastError})`);
      const probe = new KafkajsClients({ brokers: [bootstrap], requestTimeoutMs: 5_000, coordinatorRetryBudgetMs: Math.min(5_000, remaining()) });
      try {
        await raceWithTimeout(probe.producer(`streamcheck-readiness-${randomUUID()}`).initTransactions(), Math.min(10_000, remaining()), 'initTransactions');
        return;
      } catch (error) {
        lastError = (error as Error).message;
      } finally {
        await probe.close();
      }
      await Promise.race([sleep(READINESS_POLL_INTERVAL_MS), broker.exited]);
    }
  };
  await awaitReady(deadlineMs);
  log(`local: Kafka ready in ${((Date.now() - startedMs) / 1000).toFixed(1)} s`);
  const control = processControl('Kafka broker', 'java', () => broker, async () => {
    // Same command line, ports and data directory: the broker recovers its log and rejoins.
    broker = spawnBroker();
    await awaitReady(Date.now() + timeoutMs);
    log(`local: Kafka broker restarted on ${bootstrap} (wrapper pid ${broker.pid})`);
  });
  return { bootstrap, control };
}

function kafkaServerProperties({ brokerPort, controllerPort, logDir }: { brokerPort: number; controllerPort: number; logDir: string }): string {
  return [
    '# Written by streamcheck (src/harness/e2e/services/local.ts): single-node KRaft broker for e2e tests.',
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@${LOOPBACK}:${controllerPort}`,
    `listeners=PLAINTEXT://${LOOPBACK}:${brokerPort},CONTROLLER://${LOOPBACK}:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://${LOOPBACK}:${brokerPort}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    `log.dirs=${logDir}`,
    'num.partitions=1',
    'default.replication.factor=1',
    'offsets.topic.replication.factor=1',
    // One partition each: creating 50 on first use costs seconds on a 2-core machine.
    'offsets.topic.num.partitions=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=1',
    'group.initial.rebalance.delay.ms=0',
    // How often the coordinator looks for transactions past their timeout (default 10 s):
    // short, so tests of a timed-out pre-committed transaction finish quickly.
    'transaction.abort.timed.out.transaction.cleanup.interval.ms=500',
    '',
  ].join('\n');
}

const LOG4J_PROPERTIES = [
  'log4j.rootLogger=INFO, stderr',
  'log4j.appender.stderr=org.apache.log4j.ConsoleAppender',
  'log4j.appender.stderr.Target=System.err',
  'log4j.appender.stderr.layout=org.apache.log4j.PatternLayout',
  'log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n',
  'log4j.logger.kafka.request.logger=WARN',
  'log4j.logger.state.change.logger=WARN',
  '',
].join('\n');

// --------------------------------------------------------------------------------------------- Redis

const REDIS_PING_TIMEOUT_MS = 1_500;
const REDIS_START_TIMEOUT_MS = 10_000;

async function startRedis(providerOptions: LocalProviderOptions, cleanup: Cleanup, log: Log): Promise<{ url: string; control?: ServiceProcessControl }> {
  const candidate = providerOptions.redisUrl === undefined ? LOCAL_DEFAULT_REDIS_URL : providerOptions.redisUrl;
  if (candidate !== null && (await redisAnswersPing(candidate, REDIS_PING_TIMEOUT_MS))) {
    log(`local: using the Redis that answers on ${candidate}`);
    return { url: candidate };
  }
  const [port] = await freeLoopbackPorts(1);
  const dataDir = await mkdtemp(join(tmpdir(), 'streamcheck-redis-'));
  cleanup.add('delete Redis data', () => rm(dataDir, { recursive: true, force: true }));
  // Persistence: an append-only file fsync'd on every write, so a SIGKILL loses nothing acknowledged.
  const persistence = providerOptions.redisPersistence === true ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const spawnRedis = (): TiedChild =>
    spawnTiedToThisProcess('redis-server', ['--port', String(port), '--bind', LOOPBACK, '--save', '', ...persistence, '--dir', dataDir], { cwd: dataDir, outputFd: 'ignore', stopGraceMs: 5_000 });
  let redis = spawnRedis();
  cleanup.add('stop redis-server', () => redis.stop());
  const url = `redis://${LOOPBACK}:${port}/0`;
  const awaitReady = async (): Promise<void> => {
    const deadlineMs = Date.now() + REDIS_START_TIMEOUT_MS;
    while (Date.now() < deadlineMs) {
      if (redis.exitedWith !== undefined) throw new Unavailability(`redis-server exited (${redis.exitedWith}); is it installed? (Debian package redis-server)`);
      if (await redisAnswersPing(url, REDIS_PING_TIMEOUT_MS)) return;
      await sleep(100);
    }
    throw new Unavailability(`redis-server on port ${port} did not answer PING within ${REDIS_START_TIMEOUT_MS} ms`);
  };
  await awaitReady();
  log(`local: started redis-server (wrapper pid ${redis.pid}) on ${url}`);
  const control = processControl('redis-server', 'redis-server', () => redis, async () => {
    redis = spawnRedis();
    await awaitReady();
    log(`local: redis-server restarted on ${url} (wrapper pid ${redis.pid})`);
  });
  return { url, control };
}

/**
 * Kill and restart for a service under its watchdog: the PID killed is the service's own (the
 * watchdog's child whose command line starts with `commandName`), found with ps; the watchdog
 * then exits with it, and restart() starts a new watchdog and service with the same arguments.
 */
function processControl(label: string, commandName: string, current: () => TiedChild, restart: () => Promise<void>): ServiceProcessControl {
  const pid = async (): Promise<number | undefined> => {
    const watchdog = current();
    if (watchdog.pid === undefined || watchdog.exitedWith !== undefined) return undefined;
    const { stdout } = await run('ps', ['-o', 'pid=,args=', '--ppid', String(watchdog.pid)], { timeoutMs: 5_000 }).catch(() => ({ stdout: '' }));
    const line = stdout.split('\n').map((l) => l.trim()).find((l) => {
      const args = l.replace(/^\d+\s+/, '');
      return args.startsWith(commandName) || args.split(/\s/)[0]!.endsWith(`/${commandName}`);
    });
    return line === undefined ? undefined : Number(line.split(/\s+/)[0]);
  };
  return {
    pid,
    kill: async (signal = 'SIGKILL') => {
      const servicePid = await pid();
      if (servicePid === undefined) throw new Error(`${label}: no running process to kill`);
      process.kill(servicePid, signal);
      const gone = await Promise.race([current().exited.then(() => true), sleep(BROKER_STOP_GRACE_MS + 5_000).then(() => false)]);
      if (!gone) throw new Error(`${label}: pid ${servicePid} still running ${BROKER_STOP_GRACE_MS + 5_000} ms after ${signal}`);
    },
    restart: async () => {
      if (current().exitedWith === undefined) throw new Error(`${label}: restart() while it is still running; kill() it first`);
      await current().stop(); // ends the old watchdog's pipe, so its helper shell exits too
      await restart();
    },
  };
}

export async function redisAnswersPing(url: string, timeoutMs: number): Promise<boolean> {
  // Outside the try: a missing ioredis is an installation problem to report, not "no answer".
  const Redis = await loadIoredis();
  const client = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  client.on('error', () => undefined);
  try {
    await raceWithTimeout(
      client.connect().then(() => client.ping()),
      timeoutMs,
      'Redis PING',
    );
    return true;
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

// --------------------------------------------------------------------------------------------- processes and ports

/** Ports the kernel hands out for 127.0.0.1:0, released right away (a small race we accept: the broker binds within a second). */
export async function freeLoopbackPorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, LOOPBACK, () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  return ports;
}

function run(command: string, args: string[], options: { timeoutMs: number; env?: NodeJS.ProcessEnv }): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      args,
      { timeout: options.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, env: options.env ?? process.env },
      (error, stdout, stderr) => {
        if (error) {
          const timedOut = (error as NodeJS.ErrnoException & { killed?: boolean }).killed === true;
          // The JVM reports start-up failures on stdout or stderr depending on the failure.
          const tail = `${String(stdout).trim()}\n${String(stderr).trim()}`.trim().split('\n').slice(-15).join('\n');
          reject(new Error(`${command} ${timedOut ? `timed out after ${options.timeoutMs} ms` : `failed (${error.message.split('\n')[0]})`}${tail ? `\n${tail}` : ''}`));
        } else {
          resolve({ stdout: String(stdout), stderr: String(stderr) });
        }
      },
    );
    child.stdin?.end();
  });
}

interface TiedChild {
  readonly pid: number | undefined;
  /** Set once the process ended: `code N`, a signal name, or a spawn error. */
  readonly exitedWith: string | undefined;
  readonly exited: Promise<void>;
  /** SIGTERM, then SIGKILL after the grace period; resolves when it is gone. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts `command` under a small sh watchdog that holds a pipe from this process on its
 * stdin: when the pipe closes (stop(), or this process ending in any way, SIGKILL included)
 * the watchdog sends SIGTERM, then SIGKILL after the grace period. So a crashed or killed
 * test worker never leaves a broker behind. The watchdog exits with the command.
 */
function spawnTiedToThisProcess(command: string, args: string[], options: { cwd: string; outputFd: number | 'ignore'; stopGraceMs: number }): TiedChild {
  const graceTenths = Math.max(1, Math.ceil(options.stopGraceMs / 100));
  const watchdog = [
    'exec 3<&0', // the pipe from node; background jobs would otherwise get /dev/null
    '"$@" </dev/null &',
    'child=$!',
    '(',
    '  cat <&3 >/dev/null', // returns at EOF: node closed the pipe or is gone
    '  kill -TERM "$child" 2>/dev/null',
    '  i=0',
    `  while kill -0 "$child" 2>/dev/null && [ "$i" -lt ${graceTenths} ]; do sleep 0.1; i=$((i+1)); done`,
    '  kill -KILL "$child" 2>/dev/null',
    ') &',
    'exec 3<&-',
    'wait "$child"',
  ].join('\n');
  const child: ChildProcess = spawn('sh', ['-c', watchdog, 'streamcheck-watchdog', command, ...args], {
    cwd: options.cwd,
    stdio: ['pipe', options.outputFd, options.outputFd],
  });
  let exitedWith: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitedWith = signal ?? `code ${code}`;
      resolve();
    });
    child.once('error', (error) => {
      exitedWith = `spawn error ${error.message}`;
      resolve();
    });
  });
  let stopping: Promise<void> | undefined;
  return {
    pid: child.pid,
    get exitedWith() {
      return exitedWith;
    },
    exited,
    stop: () =>
      (stopping ??= (async () => {
        child.stdin?.end();
        const stoppedInTime = await Promise.race([exited.then(() => true), sleep(options.stopGraceMs + 2_000).then(() => false)]);
        if (!stoppedInTime) {
          child.kill('SIGKILL');
          await Promise.race([exited, sleep(2_000)]);
        }
      })()),
  };
}

function tailOfFile(path: string, lines: number): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch (error) {
    return `(cannot read: ${(error as Error).message})`;
  }
}

const sleep = (delayMs: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, delayMs));

function raceWithTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}


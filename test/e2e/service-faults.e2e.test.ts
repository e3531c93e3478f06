/**
 * Services that fail and come back, on processes these tests start themselves (the local
 * provider's broker and a redis-server of our own on a free loopback port with an fsync'd
 * append-only file; never the machine's own Redis): killed by PID for good, or killed and
 * restarted (the broker on its own data directory), during a cycle's setup and mid-cycle.
 * A restarted service means the cycles go on and end with 0 lost and 0 duplicated; a dead one
 * means EnvironmentUnavailableError naming the service and its address, never a hang.
 * Plus the CLI: `e2e` against given endpoints exits on its own after its summary, and SIGTERM
 * stops the services it started.
 */
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test, type TestContext } from 'vitest';
import { runE2eCycles, type E2eCycleResult, type E2eOptions } from '../../src/harness/e2e/e2e-cycles.ts';
import { EnvironmentUnavailableError, type RetryPolicy } from '../../src/harness/e2e/service-faults.ts';
import { e2ePolicy, localProvider, resolveServices } from '../../src/harness/e2e/services/index.ts';
import type { RunningServices, ServiceProcessControl } from '../../src/harness/e2e/services/types.ts';

const SERVICES_START_TIMEOUT_MS = 150_000;
/** Generous: a broker restart takes 10-30 s on a loaded 2-core machine. */
const RESTART_TEST_TIMEOUT_MS = 240_000;
const DEAD_SERVICE_TEST_TIMEOUT_MS = 120_000;
/** A service that stays down is named after this much retrying (instead of the default 60 s). */
const SHORT_RETRY_POLICY: RetryPolicy = { budgetMs: 3_000, firstBackoffMs: 100, maxBackoffMs: 500 };
const BIN = fileURLToPath(new URL('../../src/cli/bin.mjs', import.meta.url));
/** How long the CLI may take to exit after printing its summary before the test calls it a hang. */
const EXIT_AFTER_SUMMARY_BOUND_MS = 30_000;

const policy = e2ePolicy();
/** CI runs test/e2e once per provider; these tests always start local processes, so the Testcontainers pass leaves them to the local one. */
const skipped = policy === 'off' || process.env['STREAMCHECK_E2E_PROVIDER'] === 'testcontainers';
let services: RunningServices | undefined;
let unavailableReason = 'services not resolved';
const figures: string[] = [];

function log(line: string): void {
  console.log(`[e2e faults] ${line}`);
}

function processes(ctx: TestContext): { kafka: ServiceProcessControl; redis: ServiceProcessControl } {
  if (services === undefined) return ctx.skip(unavailableReason);
  const kafka = services?.processes?.kafka;
  const redis = services?.processes?.redis;
  if (services === undefined || kafka === undefined || redis === undefined) throw new Error('the local provider gave no process controls');
  return { kafka, redis };
}

function options(overrides: Partial<E2eOptions> & Pick<E2eOptions, 'scenario'>): E2eOptions {
  return { cycles: 2, seed: 11, recordsPerPartition: 150, services: services!, log, ...overrides };
}

function summarize(what: string, cycles: readonly E2eCycleResult[]): void {
  const sum = (pick: (c: E2eCycleResult) => number): number => cycles.reduce((total, c) => total + pick(c), 0);
  const line = `${what}: ${cycles.length} cycles, records in ${sum((c) => c.recordsIn)}, out ${sum((c) => c.recordsOut)}, lost ${sum((c) => c.lost)}, duplicated ${sum((c) => c.duplicated)}, service retries ${sum((c) => c.serviceRetries)}, restores ${sum((c) => c.restores)}`;
  figures.push(line);
  log(line);
}

function expectExactlyOnce(cycles: readonly E2eCycleResult[]): void {
  for (const cycle of cycles) {
    expect(cycle.violations).toEqual([]);
    expect(cycle.outcome).toBe('finished');
    expect([cycle.lost, cycle.duplicated, cycle.recordsOut]).toEqual([0, 0, cycle.recordsIn]);
  }
}

/** Kills the service by PID after `afterMs`, and restarts it `downMs` later; resolves when it is back. */
function killAndRestartInBackground(service: ServiceProcessControl, afterMs: number, downMs: number): Promise<void> {
  return (async () => {
    await sleep(afterMs);
    const pid = await service.pid();
    await service.kill('SIGKILL');
    log(`killed pid ${pid}`);
    await sleep(downMs);
    await service.restart();
    log(`restarted (pid ${await service.pid()})`);
  })();
}

describe.skipIf(skipped)('service faults on processes the tests start', () => {
  beforeAll(async () => {
    const result = await resolveServices({
      policy,
      providers: [localProvider({ redisUrl: null, redisPersistence: true })],
      timeoutMs: SERVICES_START_TIMEOUT_MS - 10_000,
      log,
    });
    if ('unavailable' in result) {
      unavailableReason = `no local Kafka/redis-server for the service-fault tests (STREAMCHECK_E2E=${policy}): ${result.reason}`;
      return;
    }
    services = result;
  }, SERVICES_START_TIMEOUT_MS);

  afterAll(async () => {
    for (const line of figures) console.log(`[e2e faults] figures: ${line}`);
    await services?.stop();
  }, 60_000);

  test('redis-server killed mid-cycle and restarted: the cycles go on and end with 0 lost and 0 duplicated', async (ctx) => {
    const { redis } = processes(ctx);
    let outage: Promise<void> | undefined;
    const cycles = await runE2eCycles(
      options({
        scenario: 'odd-even-sum',
        onCycleStarted: (cycle, phase) => {
          if (cycle === 0 && phase === 'job') outage = killAndRestartInBackground(redis, 150, 500);
        },
      }),
    );
    await outage;
    expect(outage).toBeDefined();
    summarize('redis-server killed mid-cycle, restarted', cycles);
    expectExactlyOnce(cycles);
  }, RESTART_TEST_TIMEOUT_MS);

  test('redis-server killed for good mid-cycle: the run ends naming Redis at its address, what it was doing and what was committed', async (ctx) => {
    const { redis } = processes(ctx);
    let outage: Promise<void> | undefined;
    try {
      const run = runE2eCycles(
        options({
          scenario: 'odd-even-sum',
          serviceRetryPolicy: SHORT_RETRY_POLICY,
          onCycleStarted: (cycle, phase) => {
            if (cycle === 1 && phase === 'job') outage = redis.kill('SIGKILL');
          },
        }),
      );
      const error = await run.then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(error).toBeInstanceOf(EnvironmentUnavailableError);
      const message = (error as Error).message;
      log(`dead Redis: ${message}`);
      expect(message).toContain(`Redis at ${services!.redisUrl} unavailable while cycle 2/2`);
      expect(message).toMatch(/already committed: 1 cycle\(s\) finished and judged \(300 records in, 0 lost, 0 duplicated\)/);
      figures.push(`redis-server killed for good in cycle 2: ${message.slice(0, 200)}`);
    } finally {
      await outage;
      await redis.restart();
    }
  }, DEAD_SERVICE_TEST_TIMEOUT_MS);

  test('Kafka broker killed during a cycle\'s setup and restarted on its data directory: setup retries, 0 lost and 0 duplicated', async (ctx) => {
    const { kafka } = processes(ctx);
    let restarted: Promise<void> | undefined;
    const cycles = await runE2eCycles(
      options({
        scenario: 'kafka-2pc',
        recordsPerPartition: 60,
        onCycleStarted: async (cycle, phase) => {
          if (cycle !== 0 || phase !== 'setup') return;
          await kafka.kill('SIGKILL');
          restarted = kafka.restart();
        },
      }),
    );
    await restarted;
    summarize('Kafka broker killed during setup, restarted', cycles);
    expect(cycles[0]!.serviceRetries).toBeGreaterThanOrEqual(1);
    expectExactlyOnce(cycles);
  }, RESTART_TEST_TIMEOUT_MS);

  test('Kafka broker killed mid-cycle and restarted: the job restarts from its checkpoint, 0 lost and 0 duplicated', async (ctx) => {
    const { kafka } = processes(ctx);
    let outage: Promise<void> | undefined;
    const cycles = await runE2eCycles(
      options({
        scenario: 'kafka-2pc',
        recordsPerPartition: 60,
        onCycleStarted: (cycle, phase) => {
          if (cycle === 0 && phase === 'job') outage = killAndRestartInBackground(kafka, 300, 500);
        },
      }),
    );
    await outage;
    summarize('Kafka broker killed mid-cycle, restarted', cycles);
    expectExactlyOnce(cycles);
  }, RESTART_TEST_TIMEOUT_MS);

  test('Kafka broker killed for good during setup: the run ends naming Kafka at its address', async (ctx) => {
    const { kafka } = processes(ctx);
    try {
      const error = await runE2eCycles(
        options({
          scenario: 'kafka-2pc',
          cycles: 1,
          serviceRetryPolicy: SHORT_RETRY_POLICY,
          onCycleStarted: async (_, phase) => {
            if (phase === 'setup') await kafka.kill('SIGKILL');
          },
        }),
      ).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(error).toBeInstanceOf(EnvironmentUnavailableError);
      const message = (error as Error).message;
      log(`dead Kafka: ${message}`);
      expect(message).toContain(`Kafka at ${services!.kafkaBrokers.join(',')} unavailable while cycle 1/1: creating topic`);
      expect(message).toContain('already committed: nothing yet');
      figures.push(`Kafka broker killed for good during setup: ${message.slice(0, 200)}`);
    } finally {
      await kafka.restart();
    }
  }, RESTART_TEST_TIMEOUT_MS);

  test('`streamcheck e2e` against given endpoints exits on its own after its summary', async (ctx) => {
    processes(ctx);
    const run = await runCli(['e2e', '--scenario', 'kafka-2pc', '--cycles', '1', '--records', '10'], {
      STREAMCHECK_KAFKA_BROKERS: services!.kafkaBrokers.join(','),
      STREAMCHECK_REDIS_URL: services!.redisUrl,
    }, { killAfterSummaryMs: EXIT_AFTER_SUMMARY_BOUND_MS });
    expect(run.stdout).toMatch(/e2e kafka-2pc on endpoints services: 1 cycles, records in 20, out 20, lost 0, duplicated 0/);
    expect(run.killedByTest).toBe(false);
    expect(run.code).toBe(0);
    figures.push(`CLI e2e against given endpoints: exit ${run.code}, ${run.msFromSummaryToExit} ms from summary to exit`);
  }, RESTART_TEST_TIMEOUT_MS);
});

describe.skipIf(skipped)('SIGTERM during `streamcheck e2e`', () => {
  test('stops the broker it started and exits 143', async () => {
    let brokerWatchdogPid: number | undefined;
    const run = await runCli(['e2e', '--scenario', 'kafka-2pc', '--cycles', '50', '--records', '10'], { STREAMCHECK_E2E_PROVIDER: 'local' }, {
      onStdoutLine: (line, child) => {
        const started = /Kafka [\d.]+ broker \(wrapper pid (\d+)\)/.exec(line);
        if (started !== null) brokerWatchdogPid = Number(started[1]);
        // Once, after the first cycle's result (not on its retry lines: a second signal exits at once, without cleanup).
        if (/^cycle 1\/50: [\w-]+, in /.test(line)) child.kill('SIGTERM');
      },
      killAfterMs: 200_000,
    });
    expect(brokerWatchdogPid).toBeDefined();
    expect(run.killedByTest).toBe(false);
    expect(run.code).toBe(143);
    expect(run.stderr).toMatch(/interrupted by SIGTERM; started services stopped/);
    expect(isRunning(brokerWatchdogPid!)).toBe(false);
    figures.push(`SIGTERM during e2e: exit ${run.code}, broker watchdog pid ${brokerWatchdogPid} gone`);
  }, RESTART_TEST_TIMEOUT_MS);
});

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly killedByTest: boolean;
  readonly msFromSummaryToExit: number | undefined;
}

/** Runs the real `streamcheck` process; SIGKILLs it (and reports so) if it outlives the bounds. */
function runCli(
  args: string[],
  env: Record<string, string>,
  bounds: { killAfterSummaryMs?: number; killAfterMs?: number; onStdoutLine?: (line: string, child: ReturnType<typeof spawn>) => void },
): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let pending = '';
    let killedByTest = false;
    let summaryAtMs: number | undefined;
    const killers: NodeJS.Timeout[] = [];
    const killNow = (): void => {
      killedByTest = true;
      child.kill('SIGKILL');
    };
    if (bounds.killAfterMs !== undefined) killers.push(setTimeout(killNow, bounds.killAfterMs));
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        bounds.onStdoutLine?.(line, child);
        if (line.startsWith('e2e ') && summaryAtMs === undefined) {
          summaryAtMs = Date.now();
          if (bounds.killAfterSummaryMs !== undefined) killers.push(setTimeout(killNow, bounds.killAfterSummaryMs));
        }
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => {
      for (const killer of killers) clearTimeout(killer);
      resolve({ code, stdout, stderr, killedByTest, msFromSummaryToExit: summaryAtMs === undefined ? undefined : Date.now() - summaryAtMs });
    });
  });
}

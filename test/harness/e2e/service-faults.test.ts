import { createServer, type AddressInfo, type Server } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { EnvironmentUnavailableError, JitteredBackoff, isTransientServiceError, withServiceRetry, type RetryPolicy } from '../../../src/harness/e2e/service-faults.ts';
import { apiVersionsRequest, apiVersionsResponseProblem, kafkaApiVersionsProblem } from '../../../src/harness/e2e/services/kafka-probe.ts';

const POLICY: RetryPolicy = { budgetMs: 1_000, firstBackoffMs: 100, maxBackoffMs: 400 };
const context = { service: 'Redis' as const, address: 'redis://127.0.0.1:6390/0', doing: 'cycle 2/3: reading back the output', committed: '1 cycle(s) finished' };
const refused = (): Error => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6390'), { code: 'ECONNREFUSED' });

describe('withServiceRetry', () => {
  test('retries transient faults with the seeded jittered backoff and returns once the service is back', async () => {
    const pauses: number[] = [];
    let calls = 0;
    const value = await withServiceRetry(context, async () => {
      calls++;
      if (calls < 3) throw refused();
      return 'ok';
    }, { policy: POLICY, seed: 's', sleep: async (ms) => void pauses.push(ms) });
    expect(value).toBe('ok');
    expect(calls).toBe(3);
    const backoff = new JitteredBackoff(POLICY, 's');
    expect(pauses).toEqual([backoff.nextPauseMs(), backoff.nextPauseMs()]);
    expect(pauses[0]).toBeGreaterThanOrEqual(50);
    expect(pauses[0]).toBeLessThanOrEqual(100);
  });

  test('a service that stays down past the budget ends with EnvironmentUnavailableError naming it, its address, the step and what was committed', async () => {
    let clockMs = 0;
    const realNow = Date.now;
    Date.now = () => clockMs; // the budget is wall-clock: advance it with the fake sleeps
    try {
      const error = await withServiceRetry(context, async () => {
        throw refused();
      }, { policy: POLICY, seed: 's', sleep: async (ms) => void (clockMs += ms) }).catch((thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(EnvironmentUnavailableError);
      expect((error as Error).message).toMatch(
        /^Redis at redis:\/\/127\.0\.0\.1:6390\/0 unavailable while cycle 2\/3: reading back the output \(retried for \d+ ms\): connect ECONNREFUSED 127\.0\.0\.1:6390; already committed: 1 cycle\(s\) finished$/,
      );
      expect(clockMs).toBeLessThanOrEqual(POLICY.budgetMs);
    } finally {
      Date.now = realNow;
    }
  });

  test('a non-transient error passes through unchanged, at once', async () => {
    let calls = 0;
    const bug = new TypeError('x is undefined');
    await expect(withServiceRetry(context, async () => {
      calls++;
      throw bug;
    }, { policy: POLICY, seed: 's', sleep: async () => undefined })).rejects.toBe(bug);
    expect(calls).toBe(1);
  });

  test('transient means connection faults and Kafka retriable answers, also when wrapped as a cause', () => {
    expect(isTransientServiceError(refused())).toBe(true);
    expect(isTransientServiceError(Object.assign(new Error('x'), { type: 'LEADER_NOT_AVAILABLE' }))).toBe(true);
    expect(isTransientServiceError(new Error('KafkajsClients: produce failed', { cause: Object.assign(new Error('closed'), { name: 'KafkaJSConnectionClosedError' }) }))).toBe(true);
    expect(isTransientServiceError(new Error('Redis MSET at redis://x failed: Connection is closed.'))).toBe(true);
    expect(isTransientServiceError(Object.assign(new Error('fenced'), { type: 'INVALID_PRODUCER_EPOCH' }))).toBe(false);
    expect(isTransientServiceError(new TypeError('x is undefined'))).toBe(false);
  });

  test('the jitter is reproducible from its seed and stays within [backoff/2, backoff]', () => {
    const draw = (seed: string): number[] => {
      const backoff = new JitteredBackoff(POLICY, seed);
      return Array.from({ length: 6 }, () => backoff.nextPauseMs());
    };
    expect(draw('a')).toEqual(draw('a'));
    expect(draw('a')).not.toEqual(draw('b'));
    const ceilings = [100, 200, 400, 400, 400, 400];
    draw('a').forEach((pause, index) => {
      expect(pause).toBeGreaterThanOrEqual(ceilings[index]! / 2);
      expect(pause).toBeLessThanOrEqual(ceilings[index]!);
    });
  });
});

describe('Kafka endpoint check by ApiVersions', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  });

  async function serve(onData: (data: Buffer, reply: (bytes: Buffer) => void) => void): Promise<string> {
    const server = createServer((socket) => {
      socket.on('data', (data) => onData(data, (bytes) => socket.write(bytes)));
      socket.on('error', () => undefined);
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  function brokerAnswer(request: Buffer, errorCode: number): Buffer {
    const frame = Buffer.alloc(4 + 4 + 2 + 4);
    frame.writeInt32BE(10, 0);
    frame.writeInt32BE(request.readInt32BE(8), 4); // the request's correlation id
    frame.writeInt16BE(errorCode, 8);
    frame.writeInt32BE(0, 10); // no API versions listed
    return frame;
  }

  test('a server that answers ApiVersions with our correlation id and no error is a broker', async () => {
    const address = await serve((request, reply) => reply(brokerAnswer(request, 0)));
    expect(await kafkaApiVersionsProblem(address, 2_000)).toBeUndefined();
  });

  test('an open port that answers something else, or nothing, is not a broker', async () => {
    const http = await serve((_, reply) => reply(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n')));
    expect(await kafkaApiVersionsProblem(http, 2_000)).toMatch(/not a Kafka ApiVersions response/);
    const silent = await serve(() => undefined);
    expect(await kafkaApiVersionsProblem(silent, 300)).toMatch(/no ApiVersions answer from 127\.0\.0\.1:\d+ within 300 ms/);
    const failing = await serve((request, reply) => reply(brokerAnswer(request, 35)));
    expect(await kafkaApiVersionsProblem(failing, 2_000)).toMatch(/answered ApiVersions with error code 35/);
    expect(await kafkaApiVersionsProblem('127.0.0.1:1', 2_000)).toMatch(/ECONNREFUSED/);
  });

  test('the request frame is ApiVersions v0 and a frame with another correlation id is refused', () => {
    const request = apiVersionsRequest();
    expect(request.readInt32BE(0)).toBe(request.length - 4);
    expect(request.readInt16BE(4)).toBe(18);
    expect(request.readInt16BE(6)).toBe(0);
    const other = Buffer.alloc(14);
    other.writeInt32BE(10, 0);
    other.writeInt32BE(42, 4);
    expect(apiVersionsResponseProblem(other)).toMatch(/another correlation id/);
  });
});

import { describe, expect, test } from 'vitest';
import { kafka2pc } from '../../scenarios/kafka-2pc.ts';
import { oddEvenSum } from '../../scenarios/odd-even-sum.ts';
import { decodeCase } from '../../src/harness/case-token.ts';
import { describeEnvelope, formatEnvelopeTable, isTimeoutLoss, searchEnvelope, type EnvelopeOptions } from '../../src/harness/envelope.ts';
import { runCase } from '../../src/harness/run-case.ts';

/** Small: a timeout far below interval + restart delay, one far above interval + checkpoint timeout + restart delay. */
const SMALL: EnvelopeOptions = {
  grid: { transactionTimeoutsMs: [25, 3_200], checkpointIntervalsMs: [50], restartDelaysMs: [20, 300] },
  plansPerPoint: 20,
  seed: 7,
  maxFaults: 3,
  preparedTransactions: false,
};

describe('the transaction-timeout envelope of kafka-2pc', () => {
  test('without prepared transactions the short timeout loses checkpointed transactions, the long one does not; the token replays to the loss', async () => {
    const report = await searchEnvelope(kafka2pc, SMALL);
    expect(report.points).toHaveLength(4);
    const at = (timeout: number, delay: number) => report.points.find((p) => p.transactionTimeoutMs === timeout && p.restartDelayMs === delay)!;
    expect(at(25, 20).lossRuns).toBeGreaterThan(0);
    expect(at(25, 300).lossRuns).toBeGreaterThan(0);
    expect(at(3_200, 20).lossRuns).toBe(0);
    expect(at(3_200, 300).lossRuns).toBe(0);
    expect(report.points.every((point) => point.otherFailureRuns === 0)).toBe(true);
    expect(report.unsafe.map((point) => point.transactionTimeoutMs)).toEqual([25, 25]);

    const token = report.counterexample!.token;
    const spec = decodeCase(token, (_, size) => kafka2pc.taskCount(size));
    expect(spec).toMatchObject({ transactionTimeoutMs: 25, checkpointIntervalMs: 50, preparedTransactions: false });
    const replayed = await runCase(kafka2pc, spec);
    expect(replayed.violations.some(isTimeoutLoss)).toBe(true);
    // The same case with prepared transactions keeps the transaction and loses nothing.
    const prepared = await runCase(kafka2pc, { ...spec, preparedTransactions: true });
    expect(prepared.violations).toEqual([]);

    expect(formatEnvelopeTable(report).join('\n')).toMatch(/interval 50 ms, restart 20 ms\s+LOSS \d+\/20\s+ok/);
    const words = describeEnvelope(report).join('\n');
    expect(words).toMatch(/interval 50 ms, restart delay 20 ms: unsafe up to a timeout of 25 ms, safe from 3200 ms/);
    expect(words).toMatch(/In words: unsafe when transaction timeout < checkpoint interval \+ restart delay [+-] \d+ ms/);
  }, 300_000);

  test('with KIP-939 prepared transactions the unsafe region vanishes: no run at any point loses data or fails anything', async () => {
    const report = await searchEnvelope(kafka2pc, { ...SMALL, preparedTransactions: true });
    expect(report.unsafe).toEqual([]);
    expect(report.counterexample).toBeUndefined();
    expect(report.points.every((point) => point.lossRuns === 0 && point.otherFailureRuns === 0)).toBe(true);
    expect(describeEnvelope(report).join('\n')).toMatch(/No unsafe point with KIP-939 prepared transactions/);
  }, 300_000);

  test('the search is deterministic: the same seed gives the same points', async () => {
    const grid = { transactionTimeoutsMs: [25], checkpointIntervalsMs: [50], restartDelaysMs: [20] };
    const first = await searchEnvelope(kafka2pc, { ...SMALL, grid, plansPerPoint: 8 });
    const second = await searchEnvelope(kafka2pc, { ...SMALL, grid, plansPerPoint: 8 });
    expect(second.points).toEqual(first.points);
  }, 120_000);

  test('refuses a scenario without transaction timeouts and a malformed grid, naming the cause', async () => {
    await expect(searchEnvelope(oddEvenSum, SMALL)).rejects.toThrow(/scenario odd-even-sum has no transaction timeout to search/);
    await expect(searchEnvelope(kafka2pc, { ...SMALL, grid: { ...SMALL.grid, transactionTimeoutsMs: [] } })).rejects.toThrow(/the transaction timeout axis of the grid is empty/);
    await expect(searchEnvelope(kafka2pc, { ...SMALL, grid: { ...SMALL.grid, restartDelaysMs: [300, 20] } })).rejects.toThrow(/restart delay axis must be strictly increasing/);
    await expect(searchEnvelope(kafka2pc, { ...SMALL, grid: { ...SMALL.grid, transactionTimeoutsMs: [0] } })).rejects.toThrow(/transaction timeout\[0\] must be in \[1, 900000\]/);
  });

  test('runCase refuses transaction settings for a scenario that has none', async () => {
    const spec = { scenario: 'odd-even-sum', size: oddEvenSum.defaultSize, mode: 'exactly-once' as const, backend: 'memory' as const, bug: undefined, faults: [], schedule: { kind: 'seed' as const, seed: 1 }, transactionTimeoutMs: 10 };
    await expect(runCase(oddEvenSum, spec)).rejects.toThrow(/scenario odd-even-sum has no transaction timeout to set/);
  });
});

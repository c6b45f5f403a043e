// A short run of the load test (`npm run load` drives each server for 20 s), so that it cannot rot.
import { expect, test } from 'vitest';
import { loadTest, reliabilityPage } from './load/load.js';

test('each seed server answers every request under a fixed load with its faults happening', async () => {
  const results = await loadTest({ seconds: 1, rps: 40 });
  expect(results.map((r) => r.scenario)).toEqual([
    'seed 001: BoundedQueue + consume()',
    'seed 003: withTimeout around a connect',
    'seeds 002/003: TaskRegistry',
  ]);
  for (const r of results) {
    expect(r.sent).toBe(40);
    expect(r.replies['no answer'] ?? 0).toBe(0); // every request got an answer
    expect(r.health.count).toBeGreaterThan(10);
  }
  expect(Object.keys(results[0]!.replies).every((k) => k === '202' || k === '503')).toBe(true);
  expect(results[1]!.replies['504']).toBe(40);
  expect(results[1]!.after).toBe('0 database connections left open');
  expect(reliabilityPage(results, 'test')).toContain('| seed 003: withTimeout around a connect |');
}, 60_000);

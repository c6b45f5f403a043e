// A short run of the load test (`npm run load` drives each server for 20 s), so that it cannot rot.
import { expect, test } from 'vitest';
import { loadTest, reliabilityPage } from './load/load.js';

test('each seed server answers every request under a fixed load with its faults happening', async () => {
  const results = await loadTest({ seconds: 1, rps: 40 });
  expect(results.map((r) => r.scenario)).toEqual([
    'seed 000: WorkerPool behind an SSE route',
    'seed 001: BoundedQueue + consume()',
    'seed 003: withTimeout around a connect',
    'seeds 002/003: TaskRegistry',
    'seed 004: fanOut + a global Semaphore',
  ]);
  for (const r of results) {
    expect(r.sent).toBe(40);
    expect(r.replies['no answer'] ?? 0).toBe(0); // every request got an answer
    expect(r.health.count).toBeGreaterThan(10);
  }
  const [stream, queue, connect, , fanOut] = results;
  // Every stream opened and was hung up by its client; the hung-up streams' hung tasks all let go.
  expect(stream!.replies['200']).toBe(40);
  expect(stream!.after).toBe('0 tasks of hung-up streams running, 0 queued; 0 of 16 pool slots in use');
  expect(Object.keys(queue!.replies).every((k) => k === '202' || k === '503')).toBe(true);
  expect(connect!.replies['504']).toBe(40);
  expect(connect!.after).toBe('0 database connections left open');
  // Merged (200) or past its deadline while the shard hung (504), unless its client hung up first.
  expect(Object.keys(fanOut!.replies).every((k) => ['200', '504', 'client hung up'].includes(k))).toBe(true);
  expect(fanOut!.replies['200']).toBeGreaterThan(0);
  expect(fanOut!.after).toMatch(/ 0 permits held, 0 waiting, 0 downloads in flight$/);
  // The global semaphore capped the downloads of all requests together.
  const peak = Number(/^peak (\d+) downloads in flight \(limit 32;/.exec(fanOut!.after)?.[1]);
  expect(peak).toBeGreaterThan(0);
  expect(peak).toBeLessThanOrEqual(32);
  expect(reliabilityPage(results, 'test')).toContain('| seed 004: fanOut + a global Semaphore |');
}, 60_000);

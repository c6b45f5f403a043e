// A tiny run of the soak (`npm run soak` runs 1,000,000 operations), so that it cannot rot.
import { expect, test } from 'vitest';
import { prng, soak } from './soak/soak.js';

test('the soak runs a seeded mix of every primitive with faults and keeps every invariant', async () => {
  const report = await soak({ ops: 3_000, seed: 20261123 });
  expect(report.ops).toBe(3_000);
  expect(report.invariantChecks).toBeGreaterThan(3_000);
  for (const op of [
    'semaphore.run',
    'queue.put',
    'queue.get',
    'fanOut',
    'withTimeout',
    'pool.run',
    'pool.nested',
    'pool.shutdown',
    'registry.spawn',
    'registry.shutdown',
  ])
    expect(report.counts[op], op).toBeGreaterThan(0);
  for (const fault of [
    'abort',
    'throw',
    'timeout',
    'pool.fail',
    'pool.deaf',
    'pool.shutdown',
    'pool.drain',
    'registry.fail',
    'registry.deaf',
    'registry.cancel',
    'registry.timeout',
    'registry.shutdown',
  ])
    expect(report.faults[fault], fault).toBeGreaterThan(0);
}, 60_000);

test('the same seed gives the same sequence', () => {
  const a = prng(7);
  const b = prng(7);
  expect(Array.from({ length: 5 }, a.next)).toEqual(Array.from({ length: 5 }, b.next));
});

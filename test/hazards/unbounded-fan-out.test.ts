import { expect, test } from 'vitest';
import { storageFanOutStory } from '../../examples/storage-fan-out.js';

test('unbounded fan-out floods the storage server; fanOut with a global semaphore keeps it at 32', async () => {
  const r = await storageFanOutStory();
  expect(r.naive.peak).toBeGreaterThan(32); // 10 requests × 50 chunks, all at once
  expect(r.unwedge.peak).toBeLessThanOrEqual(32);
  expect(r.unwedge.peak).toBeGreaterThan(8); // the global limit, not one request's window, is the cap
  expect(r.cured).toBe(true);
});

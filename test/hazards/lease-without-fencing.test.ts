// docs/hazards/lease-without-fencing.md: the example's story on real parts (two worker processes,
// a real redis-server, a store on loopback). A holder paused past its lease writes after the next
// holder: the naive store loses the newer write, the fenced store refuses the stale one.
import { expect, test } from 'vitest';
import { leaseFencingStory } from '../../examples/lease-fencing.js';

test('a write from a holder paused past its lease: the naive store takes it over the newer one, the fenced store refuses it', async () => {
  const r = await leaseFencingStory();
  expect(r.fenceB).toBeGreaterThan(r.fenceA);
  // B held the permit while A was paused, and A's write came after B's.
  expect(r.bGrantedAfter).toBeLessThan(2_000);
  expect(r.aWroteAfter).toBeGreaterThanOrEqual(2_000);
  expect(r.naive.answers).toEqual([
    { by: 'B', fence: r.fenceB, status: 200 },
    { by: 'A', fence: r.fenceA, status: 200 },
  ]);
  expect(r.naive.record).toBe('A'); // B's write is lost
  expect(r.fenced.answers).toEqual([
    { by: 'B', fence: r.fenceB, status: 200 },
    { by: 'A', fence: r.fenceA, status: 409 },
  ]);
  expect(r.fenced.record).toBe('B');
  expect(r.aSignal).toBe('LeaseLostError'); // told at the first callback after the pause, too late for a write already sent
}, 30_000);

// Hazard: docs/hazards/blocking-pool-shutdown.md (seed 000). A route that waits for its pool work
// to drain when the client goes away, instead of cancelling it, leaves hung tasks holding their
// slots; the pool fills up and /health, which needs the pool, stops answering.
import { beforeAll, expect, test } from 'vitest';
import { runVariant } from '../../examples/stream-route.js';

// One untimed round first: the first use of each HTTP and abort path in a fresh worker compiles
// and loads code, which is not what the latency bound is about.
beforeAll(async () => {
  await runVariant('unwedge');
});

test('aborting a hung-up stream’s tasks keeps /health under 50 ms throughout and leaves no task running', async () => {
  const result = await runVariant('unwedge');
  expect(result.streams).toBe(9);
  expect(result.health.count).toBeGreaterThan(20); // probed every 10 ms while streams opened and hung up
  expect(result.health.max).toBeLessThan(50);
  expect(result.tasksLeft).toBe(0);
  expect(result.tasksQueued).toBe(0);
});

test('awaiting the drain on disconnect instead leaves the hung tasks running and stalls /health', async () => {
  const result = await runVariant('naive');
  expect(result.tasksLeft).toBe(16); // every slot of the pool, held by a hung-up stream's task
  expect(result.tasksQueued).toBeGreaterThan(0);
  expect(result.health.max).toBeGreaterThanOrEqual(1_000); // a probe got no answer within 1 s
});

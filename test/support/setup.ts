// Tripwires for every test file: an unhandled rejection or uncaught exception fails the run
// (vitest reports those as errors), and a file that leaves a timer, socket, server or other
// handle active fails in its last hook. test/tripwire.test.ts shows both trip.
import { afterAll, beforeAll, vi } from 'vitest';
import { activeResources, type ResourceCounts, resetTimers, settledLeaks, trackTimers } from './leaks.js';

trackTimers();
let baseline: ResourceCounts;

beforeAll(() => {
  resetTimers();
  baseline = activeResources();
});

afterAll(async () => {
  vi.useRealTimers();
  const leaked = await settledLeaks(baseline);
  if (leaked.length > 0) {
    throw new Error(`this test file left active handles behind: ${leaked.join(', ')}`);
  }
});

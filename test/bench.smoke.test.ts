// Keeps the benchmarks from rotting: every workload runs at tiny sizes (figures meaningless,
// nothing written). The real run is `npm run bench`.
import { expect, test } from 'vitest';
import { runSuite } from '../bench/run.js';

test('every benchmark workload runs at tiny sizes and reports each contender', async () => {
  const { results, sections } = await runSuite({
    quick: true,
    write: false,
    log: () => {},
    progress: () => {},
  });
  expect(Object.keys(results)).toEqual([
    'limiter',
    'growth',
    'semaphore',
    'queue',
    'fanOut',
    'fanOutIterable',
    'memory',
    'abort',
    'sharedSignal',
  ]);
  const tables = sections.join('\n');
  for (const name of [
    'floor',
    'unwedge Semaphore.run',
    'p-limit',
    'p-queue',
    'effect forEach',
    'unwedge BoundedQueue',
    'unwedge fanOut',
    'p-map',
    'unwedge Semaphore.acquire',
    'p-queue add({ signal })',
  ])
    expect(tables).toContain(`| ${name} |`);
}, 120_000);

// Keeps the benchmarks from rotting: every workload runs at tiny sizes (figures meaningless,
// nothing written). The real run is `npm run bench`.
import { expect, test } from 'vitest';
import type { LimiterRow } from '../bench/limiter.js';
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
  const peers = ['@henrygd/queue', 'fastq', 'async-sema', 'cockatiel bulkhead'];
  for (const name of [
    'floor',
    'unwedge Semaphore.run',
    'p-limit',
    'p-queue',
    ...peers,
    'effect forEach',
    'unwedge BoundedQueue',
    'unwedge fanOut',
    'p-map',
    'unwedge Semaphore.acquire',
    'p-queue add({ signal })',
  ])
    expect(tables).toContain(`| ${name} |`);

  // Workload 1: every limiter ran exactly its concurrency at once, and the context probe found what
  // the floors are built to show and what unwedge (and the README, for the peers) promises.
  const limiter = results.limiter as Array<{ concurrency: number; results: LimiterRow[] }>;
  expect(limiter.map((l) => l.concurrency)).toEqual([1, 16, 1024]);
  const expected: Record<string, boolean> = {
    floor: false,
    'floor (keeps context)': true,
    'unwedge Semaphore.run': true,
    'unwedge WorkerPool.run': true,
    'p-limit': true,
    'p-queue': false,
  };
  for (const { concurrency, results: rows } of limiter) {
    const row = (name: string) => rows.find((r) => r.name === name);
    for (const [name, keeps] of Object.entries(expected)) expect(row(name)?.keepsContext, name).toBe(keeps);
    for (const name of peers) expect(typeof row(name)?.keepsContext, name).toBe('boolean');
    for (const r of rows.filter((x) => x.keepsContext !== undefined))
      expect(r.maxInFlight, r.name).toBe(concurrency);
    expect(row('effect forEach')?.keepsContext).toBeUndefined();
  }
  expect(tables).toContain("| × floor | keeps caller's context |");
  expect(tables).toMatch(/\| floor \| [^\n]* \| no \|\n\| floor \(keeps context\) \| [^\n]* \| yes \|/);
  expect(tables).toMatch(/\| unwedge Semaphore\.run \| [^\n]* \| yes \|/);
  expect(tables).toMatch(/\| unwedge WorkerPool\.run \| [^\n]* \| yes \|/);
}, 120_000);

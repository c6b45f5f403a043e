// TaskRegistry workload: a million short tasks spawned in batches, each batch settling before the
// next. Checks that the registry ends empty and the heap flat (settled tasks are dropped at once),
// and prints the cost per task beside a bare fire-and-forget promise and one given an AbortSignal
// (creating one costs several µs on Node 20: most of what a task costs).
//
//   node --expose-gc --import tsx bench/registry.ts [--tasks N] [--batch B]

import { pathToFileURL } from 'node:url';
import { TaskRegistry } from '../src/registry/registry.js';
import { collect } from './harness.js';

export interface RegistryBenchResult {
  tasks: number;
  batch: number;
  /** ns per task for each contender. */
  nsPerTask: Record<string, number>;
  /** Heap used after a full GC, before the first and after the last task, in MB. */
  heapBeforeMb: number;
  heapAfterMb: number;
  sizeAfter: number;
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function timed(tasks: number, batch: number, spawnOne: (i: number) => void): Promise<number> {
  const started = process.hrtime.bigint();
  for (let done = 0; done < tasks; done += batch) {
    for (let i = 0; i < batch; i++) spawnOne(done + i);
    await turn(); // the batch settles before the next starts
  }
  return Number(process.hrtime.bigint() - started) / tasks;
}

export async function registryBench({ tasks = 1_000_000, batch = 1_000 } = {}): Promise<RegistryBenchResult> {
  const registry = new TaskRegistry({ name: 'bench' });
  // Warm-up, then measure the heap with nothing live.
  await timed(Math.min(tasks, 20_000), batch, (i) => registry.spawn('short', async () => i));
  collect();
  const before = process.memoryUsage().heapUsed;
  const nsPerTask: Record<string, number> = {};
  nsPerTask['TaskRegistry.spawn'] = await timed(tasks, batch, (i) => registry.spawn('short', async () => i));
  await turn();
  collect();
  const after = process.memoryUsage().heapUsed;
  const sizeAfter = registry.size;
  nsPerTask['void promise (floor)'] = await timed(tasks, batch, (i) => {
    void (async () => i)().catch(() => {});
  });
  nsPerTask['promise + AbortController().signal'] = await timed(tasks, batch, (i) => {
    const signal = new AbortController().signal;
    void (async () => signal.aborted || i)().catch(() => {});
  });
  await registry.shutdown();
  return {
    tasks,
    batch,
    nsPerTask,
    heapBeforeMb: before / 2 ** 20,
    heapAfterMb: after / 2 ** 20,
    sizeAfter,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name: string, fallback: number) => {
    const i = process.argv.indexOf(name);
    return i === -1 ? fallback : Number(process.argv[i + 1]);
  };
  const r = await registryBench({ tasks: arg('--tasks', 1_000_000), batch: arg('--batch', 1_000) });
  console.log(`${r.tasks.toLocaleString('en')} short tasks in batches of ${r.batch}:`);
  for (const [name, ns] of Object.entries(r.nsPerTask))
    console.log(`  ${name.padEnd(36)} ${ns.toFixed(0)} ns/task`);
  console.log(
    `  heap after GC: ${r.heapBeforeMb.toFixed(1)} MB before, ${r.heapAfterMb.toFixed(1)} MB after; ` +
      `registry size after: ${r.sizeAfter}`,
  );
  process.exitCode = r.sizeAfter === 0 && r.heapAfterMb - r.heapBeforeMb < 2 ? 0 : 1;
}

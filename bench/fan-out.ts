// fanOut workload: N immediately-resolving items through a window of 16, beside p-map and the
// hand-written floor; and fanOutIterable over a large generator with the peak heap reported.
//
//   node --expose-gc --import tsx bench/fan-out.ts [--items N] [--lazy N] [--rounds R]
import { pathToFileURL } from 'node:url';
import pMap from 'p-map';
import { fanOut, fanOutIterable } from '../src/index.js';
import { floorWindow } from './floor/window.js';
import { collect, compare, type Measured, table } from './harness.js';

const call = async (n: number) => n;

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

export async function fanOutBench(
  options: { items?: number; rounds?: number; window?: number; progress?: (t: string) => void } = {},
) {
  const items = options.items ?? 200_000;
  const window = options.window ?? 16;
  const input = range(items);
  const results: Measured[] = await compare(
    [
      { name: 'floor', run: () => floorWindow(input, call, window) },
      { name: 'unwedge fanOut', run: () => fanOut(input, call, { window }) },
      { name: 'p-map', run: () => pMap(input, call, { concurrency: window }) },
    ],
    items,
    options.rounds ?? 5,
    options.progress,
  );
  return { items, window, results };
}

/** Runs fanOutIterable over a generator of `items` numbers and reports the peak heap growth. */
export async function lazyFanOutBench(items = 10_000_000, window = 16) {
  function* numbers() {
    for (let i = 0; i < items; i++) yield i;
  }
  collect();
  const before = process.memoryUsage().heapUsed;
  let peak = before;
  let sum = 0;
  let seen = 0;
  const started = process.hrtime.bigint();
  for await (const n of fanOutIterable(numbers(), call, { window })) {
    sum += n;
    if (++seen % 100_000 === 0) peak = Math.max(peak, process.memoryUsage().heapUsed);
  }
  const ns = Number(process.hrtime.bigint() - started);
  collect();
  const after = process.memoryUsage().heapUsed;
  return {
    items,
    window,
    nsPerItem: ns / items,
    peakHeapGrowthMiB: (peak - before) / 2 ** 20,
    heapAfterMiB: (after - before) / 2 ** 20,
    checksum: sum,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i === -1 ? undefined : Number(process.argv[i + 1]);
  };
  const r = await fanOutBench({
    items: arg('--items'),
    rounds: arg('--rounds'),
    progress: (t) => process.stderr.write(`${t}\r`),
  });
  console.log(table(`fanOut, ${r.items} immediate items, window ${r.window}`, r.results, 'floor'));
  const lazy = await lazyFanOutBench(arg('--lazy') ?? 10_000_000);
  console.log(
    `fanOutIterable over ${lazy.items} generated items, window ${lazy.window}: ${lazy.nsPerItem.toFixed(0)} ns/item, ` +
      `peak heap growth ${lazy.peakHeapGrowthMiB.toFixed(1)} MiB, after GC ${lazy.heapAfterMiB.toFixed(1)} MiB`,
  );
}

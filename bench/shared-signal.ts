// Workload 6b: many parked waits that share one signal (one request's or one shutdown's
// AbortController passed to every wait), all ended by its abort. The time from abort() until every
// wait has settled, per wait, as the number of waits grows: linear means a flat column. Beside
// unwedge: p-queue (one listener per queued task) and, as the floor, Node's own EventTarget with
// as many `{ once: true }` listeners that remove nothing.
//
//   node --expose-gc --import tsx bench/shared-signal.ts [--sizes 10000,100000]
import { setMaxListeners } from 'node:events';
import PQueue from 'p-queue';
import { BoundedQueue, Semaphore, WorkerPool } from '../src/index.js';
import { collect } from './harness.js';

type Parker = { name: string; park: (n: number, signal: AbortSignal) => Promise<() => Promise<void>> };

const never = new Promise<never>(() => {});

/** Each parks `n` waits on `signal` and returns how to clean up afterwards. */
const parkers: Parker[] = [
  {
    name: 'Node EventTarget (floor: `n` once-listeners, nothing removed)',
    park: async (n, signal) => {
      for (let i = 0; i < n; i++) signal.addEventListener('abort', () => {}, { once: true });
      return async () => {};
    },
  },
  {
    name: 'unwedge Semaphore.acquire',
    park: async (n, signal) => {
      const sem = new Semaphore(1);
      const held = await sem.acquire();
      for (let i = 0; i < n; i++) sem.acquire({ signal }).catch(() => {});
      return async () => held.release();
    },
  },
  {
    name: 'unwedge BoundedQueue.put',
    park: async (n, signal) => {
      const queue = new BoundedQueue<number>({ capacity: 1 });
      await queue.put(0);
      for (let i = 0; i < n; i++) queue.put(i, { signal }).catch(() => {});
      return async () => void queue.shutdown({ immediate: true });
    },
  },
  {
    name: 'unwedge WorkerPool.run (queued)',
    park: async (n, signal) => {
      const pool = new WorkerPool({ concurrency: 1, maxQueue: Number.POSITIVE_INFINITY });
      pool.run(() => never).catch(() => {});
      for (let i = 0; i < n; i++) pool.run(() => i, { signal }).catch(() => {});
      return async () => void (await pool.shutdown());
    },
  },
  {
    name: 'p-queue add({ signal })',
    park: async (n, signal) => {
      const queue = new PQueue({ concurrency: 1 });
      queue.add(() => never).catch(() => {});
      for (let i = 0; i < n; i++) queue.add(() => i, { signal }).catch(() => {});
      return async () => queue.clear();
    },
  },
];

/** ns per wait from abort() until every wait has settled (a macrotask later), for each size. */
export async function sharedSignalBench(options: { sizes?: number[]; peersUpTo?: number } = {}) {
  const sizes = options.sizes ?? [10_000, 100_000, 1_000_000];
  const peersUpTo = options.peersUpTo ?? 10_000;
  const out: Array<{ name: string; nsPerWait: Array<number | undefined> }> = [];
  for (const parker of parkers) {
    const nsPerWait: Array<number | undefined> = [];
    for (const n of sizes) {
      if (!parker.name.startsWith('unwedge') && n > peersUpTo) {
        // Quadratic: Node's EventTarget scans its listeners on every add (100,000 adds to one
        // signal took 49 s, 1,000,000 would take over an hour); p-queue's 100,000 aborts took 39 s.
        nsPerWait.push(undefined);
        continue;
      }
      collect();
      const controller = new AbortController();
      // Node warns once more than 10 listeners share a signal: the floor and p-queue would print
      // MaxListenersExceededWarning here, as p-queue does in its users' logs (unwedge does not:
      // test/hazards/many-waits-one-signal.test.ts).
      setMaxListeners(0, controller.signal);
      const cleanup = await parker.park(n, controller.signal);
      const started = process.hrtime.bigint();
      controller.abort();
      await new Promise((resolve) => setImmediate(resolve)); // rejections run as microtasks before this
      nsPerWait.push(Number(process.hrtime.bigint() - started) / n);
      await cleanup();
    }
    out.push({ name: parker.name, nsPerWait });
  }
  return { sizes, results: out };
}

export function sharedSignalTable(r: Awaited<ReturnType<typeof sharedSignalBench>>, title: string): string {
  return [
    `### ${title}`,
    '',
    `| contender | ${r.sizes.map((n) => `${n.toLocaleString('en')} waits`).join(' | ')} |`,
    `|---|${r.sizes.map(() => '---:').join('|')}|`,
    ...r.results.map(
      (c) =>
        `| ${c.name} | ${c.nsPerWait.map((ns) => (ns === undefined ? 'not run' : ns.toFixed(0))).join(' | ')} |`,
    ),
    '',
  ].join('\n');
}

if (import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const arg = process.argv.indexOf('--sizes');
  const sizes = arg > 0 ? process.argv[arg + 1]!.split(',').map(Number) : undefined;
  const r = await sharedSignalBench({ sizes });
  console.log(sharedSignalTable(r, '6b. abort: waits sharing one signal, ns per wait until all settled'));
}

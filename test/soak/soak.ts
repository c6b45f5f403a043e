// The soak: a seeded random workload over every primitive at once, with failures, aborts,
// timeouts and closes at random points, checking invariants as it goes and at the end.
//
//   npm run soak -- --ops 1000000 --seed 42
//
// A failure prints the seed (and the op count) that reproduces it.
import {
  BoundedQueue,
  ClosedError,
  fanOut,
  QueueFullError,
  Semaphore,
  TimeoutError,
  withTimeout,
} from '../../src/index.js';

export interface SoakOptions {
  ops: number;
  seed: number;
  /** Concurrent actors issuing operations. */
  actors?: number;
  log?: (line: string) => void;
}

export interface SoakReport {
  seed: number;
  ops: number;
  counts: Record<string, number>;
  faults: Record<string, number>;
  invariantChecks: number;
  heap: { startMiB: number; endMiB: number; growthPct: number };
  ms: number;
}

/** A small, fast, seedable PRNG (mulberry32). */
export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    chance: (p: number) => next() < p,
  };
}

class InvariantError extends Error {}

export async function soak(options: SoakOptions): Promise<SoakReport> {
  const rand = prng(options.seed);
  const log = options.log ?? (() => {});
  const counts: Record<string, number> = {};
  const faults: Record<string, number> = {};
  const count = (k: string) => {
    counts[k] = (counts[k] ?? 0) + 1;
  };
  const fault = (k: string) => {
    faults[k] = (faults[k] ?? 0) + 1;
  };
  let checks = 0;
  const check = (ok: boolean, what: string) => {
    checks++;
    if (!ok) throw new InvariantError(`invariant broken: ${what}`);
  };
  let outstanding = 0; // promises we were handed and have not seen settle
  const watch = <T>(p: Promise<T>): Promise<T> => {
    outstanding++;
    return p.finally(() => {
      outstanding--;
    });
  };
  const boom = new Error('injected failure');

  // Process-global limits, shared by every actor.
  const permits = 1 + rand.int(6);
  const shared = new Semaphore(permits, { name: 'soak-shared' });
  let sharedInUse = 0;
  const storage = new Semaphore(8, { name: 'soak-storage' });
  let storageInUse = 0;

  // A queue that is closed at random and replaced; items are tracked so none is lost or duplicated.
  let queue = new BoundedQueue<number>({ capacity: 1 + rand.int(16), name: 'soak-queue' });
  // Per item: bit 1 = its put succeeded, bit 2 = it was taken. Preallocated, so that the soak's own
  // bookkeeping does not grow the heap it measures.
  let nextItem = 0;
  const items = new Uint8Array(options.ops + 1);
  const PUT = 1;
  const TAKEN = 2;
  const take = (item: number, where: string) => {
    check((items[item]! & TAKEN) === 0, `queue: item ${item} taken twice${where}`);
    items[item]! |= TAKEN;
  };

  const drain = (q: BoundedQueue<number>) => {
    while (q.size > 0) {
      take(q.tryGet()!, ' on drain');
      q.taskDone();
    }
  };

  /** Something that takes a little while: settles now, next microtask, next macrotask, or fails. */
  const work = (signal?: AbortSignal): Promise<void> => {
    const kind = rand.int(5);
    if (kind === 0) return Promise.resolve();
    if (kind === 1) {
      fault('throw');
      return Promise.reject(boom);
    }
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal!.reason);
      };
      const timer = kind === 2 ? setTimeout(done, 0) : setTimeout(done, rand.int(3));
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  };

  const maybeAbort = (): AbortSignal | undefined => {
    if (!rand.chance(0.2)) return undefined;
    const controller = new AbortController();
    if (rand.chance(0.5)) {
      fault('abort');
      controller.abort(new Error('injected abort'));
    } else {
      setTimeout(() => {
        fault('abort');
        controller.abort(new Error('injected abort'));
      }, rand.int(3));
    }
    return controller.signal;
  };
  const maybeTimeout = () => (rand.chance(0.2) ? rand.int(3) : undefined);
  const expected = (error: unknown) => {
    if (error instanceof TimeoutError) fault('timeout');
    return isExpected(error);
  };
  const isExpected = (error: unknown) =>
    error === boom ||
    error instanceof TimeoutError ||
    error instanceof ClosedError ||
    error instanceof QueueFullError ||
    (error instanceof Error && error.message === 'injected abort');

  const ops: Array<() => Promise<void>> = [
    // Semaphore.run with weights, timeouts, aborts and failing work.
    async () => {
      count('semaphore.run');
      const weight = 1 + rand.int(permits);
      try {
        await watch(
          shared.run(
            async () => {
              sharedInUse += weight;
              check(sharedInUse <= permits, `semaphore: ${sharedInUse} permits in use > ${permits}`);
              try {
                await work();
              } finally {
                sharedInUse -= weight;
              }
            },
            { weight, signal: maybeAbort(), timeout: maybeTimeout() },
          ),
        );
      } catch (error) {
        check(expected(error), `semaphore.run: unexpected ${String(error)}`);
      }
    },
    // Producers: put with timeout/abort; a closed queue is replaced.
    async () => {
      count('queue.put');
      const item = nextItem++;
      const q = queue;
      try {
        // Always bounded: an unbounded put on a full queue, with every actor parked in one and none
        // left to get, is the seed-001 hang reproduced by the workload itself (seen under load).
        await watch(q.put(item, { timeout: maybeTimeout() ?? 5, signal: maybeAbort() }));
        items[item]! |= PUT;
      } catch (error) {
        check(expected(error), `queue.put: unexpected ${String(error)}`);
      }
      check(q.size <= q.capacity, 'queue: size above capacity');
    },
    // Consumers: get with timeout/abort; each item is taken once.
    async () => {
      count('queue.get');
      const q = queue;
      try {
        const item = await watch(q.get({ timeout: maybeTimeout() ?? 2, signal: maybeAbort() }));
        take(item, '');
        q.taskDone();
      } catch (error) {
        check(expected(error), `queue.get: unexpected ${String(error)}`);
      }
    },
    // A random close: waiting putters and getters settle; what is left is drained, not lost.
    async () => {
      if (!rand.chance(0.05)) return;
      count('queue.close');
      fault('close');
      const old = queue;
      queue = new BoundedQueue<number>({ capacity: 1 + rand.int(16), name: 'soak-queue' });
      old.close();
      drain(old);
    },
    // fanOut over the shared storage semaphore, with failures, aborts and settle mode.
    async () => {
      count('fanOut');
      const window = 1 + rand.int(4);
      const n = rand.int(12);
      let inFlight = 0;
      try {
        await watch(
          fanOut(
            Array.from({ length: n }, (_, i) => i),
            async (_item, { signal }) => {
              inFlight++;
              storageInUse++;
              check(inFlight <= window, `fanOut: ${inFlight} in flight > window ${window}`);
              check(storageInUse <= 8, `fanOut: ${storageInUse} storage permits in use > 8`);
              try {
                await work(signal);
              } finally {
                inFlight--;
                storageInUse--;
              }
            },
            { window, semaphores: [storage], signal: maybeAbort(), settle: rand.chance(0.5) },
          ),
        );
      } catch (error) {
        check(expected(error), `fanOut: unexpected ${String(error)}`);
      }
      check(inFlight === 0, 'fanOut: settled with calls still running');
    },
    // withTimeout around work that may hang past its limit.
    async () => {
      count('withTimeout');
      try {
        await watch(withTimeout((signal) => work(signal), rand.int(3), { signal: maybeAbort() }));
      } catch (error) {
        check(expected(error), `withTimeout: unexpected ${String(error)}`);
      }
    },
  ];

  const gc = (globalThis as { gc?: () => void }).gc;
  const heap = () => {
    gc?.();
    gc?.();
    return process.memoryUsage().heapUsed;
  };
  const started = performance.now();
  let issued = 0;
  const actors = options.actors ?? 32;
  let heapStart = 0;
  const warmup = Math.min(options.ops / 10, 20_000);
  let lastReport = performance.now();
  // A watchdog: if no operation completes for 10 s, something waits forever. Fail with the seed.
  let completed = 0;
  let seen = -1;
  let stalled!: (error: Error) => void;
  const watchdog = new Promise<never>((_, reject) => {
    stalled = reject;
  });
  const dog = setInterval(() => {
    if (completed === seen) {
      stalled(new Error(`no operation completed for 10 s: ${outstanding} promises outstanding`));
    }
    seen = completed;
  }, 10_000);
  dog.unref();
  try {
    await Promise.race([
      watchdog,
      Promise.all(
        Array.from({ length: actors }, async () => {
          while (issued < options.ops) {
            issued++;
            if (issued === warmup) heapStart = heap();
            await ops[rand.int(ops.length)]!();
            completed++;
            if (performance.now() - lastReport > 2_000) {
              lastReport = performance.now();
              log(`… ${issued.toLocaleString('en')} / ${options.ops.toLocaleString('en')} ops`);
            }
          }
        }),
      ),
    ]);
  } catch (error) {
    throw new Error(`soak failed at op ${issued} with --seed ${options.seed}: ${(error as Error).message}`, {
      cause: error,
    });
  } finally {
    clearInterval(dog);
  }
  // The end: everything settles and goes back to idle.
  queue.close();
  drain(queue);
  await new Promise((resolve) => setTimeout(resolve, 10)); // late aborts scheduled by the last ops
  const fail = (what: string) => {
    throw new Error(`soak failed at the end with --seed ${options.seed}: ${what}`);
  };
  if (outstanding !== 0) fail(`${outstanding} promises handed out never settled`);
  if (shared.available !== permits || shared.waiting !== 0) fail('the shared semaphore is not idle');
  if (storage.available !== 8 || storage.waiting !== 0) fail('the storage semaphore is not idle');
  for (let item = 0; item < nextItem; item++) {
    if (items[item] === PUT) fail(`queue item ${item} was lost`);
    if (items[item] === TAKEN) fail(`queue item ${item} was taken but its put had failed`);
  }
  const heapEnd = heap();
  const growthPct = heapStart === 0 ? 0 : ((heapEnd - heapStart) / heapStart) * 100;
  return {
    seed: options.seed,
    ops: issued,
    counts,
    faults,
    invariantChecks: checks,
    heap: { startMiB: heapStart / 2 ** 20, endMiB: heapEnd / 2 ** 20, growthPct },
    ms: performance.now() - started,
  };
}

if (import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const arg = (name: string, fallback: number) => {
    const i = process.argv.indexOf(name);
    return i === -1 ? fallback : Number(process.argv[i + 1]);
  };
  const seed = arg('--seed', Math.floor(Math.random() * 2 ** 31));
  const ops = arg('--ops', 1_000_000);
  console.log(`soak: ${ops.toLocaleString('en')} ops, --seed ${seed}`);
  const resources = process.getActiveResourcesInfo().length;
  const report = await soak({ ops, seed, log: (line) => process.stderr.write(`${line}\n`) });
  console.log(JSON.stringify(report, null, 2));
  const leftover = process.getActiveResourcesInfo().length - resources;
  if (report.heap.growthPct > 10) {
    console.error(
      `heap grew ${report.heap.growthPct.toFixed(1)} % (limit 10 %) — reproduce with --seed ${seed}`,
    );
    process.exitCode = 1;
  }
  if (leftover > 0) {
    console.error(`${leftover} active handles left — reproduce with --seed ${seed}`);
    process.exitCode = 1;
  }
}

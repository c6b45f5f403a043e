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
  type TaskInfo,
  TaskRegistry,
  TimeoutError,
  WorkerPool,
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

/**
 * A failure the soak injects into a pool task or a registry task: a fresh object each time, so
 * that the soak can count how many times it is reported (its `run()` rejecting with it, or the
 * pool's or registry's `onError` receiving it) and check that it is exactly once.
 */
class InjectedFailure extends Error {
  reports = 0;
}

/** A pool and the tasks the soak counts running on it (its own count, checked against the limit). */
interface PoolWatch {
  pool: WorkerPool;
  limit: number;
  running: number;
  /** Nested runs started and not settled: they run on their parent's slot. */
  children: number;
}

/** A registry and the tasks the soak counts live on it (`fn` called, its result not settled). */
interface RegistryWatch {
  registry: TaskRegistry;
  live: number;
}

const noop = () => {};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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
  // The first broken invariant: also those found inside an onError hook, which the pool and the
  // registry catch (and print) when it throws. The actors stop on it after their current op.
  let broken: string | undefined;
  const check = (ok: boolean, what: string) => {
    checks++;
    if (!ok) {
      broken ??= what;
      throw new InvariantError(`invariant broken: ${what}`);
    }
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

  // Failures injected into pool and registry tasks, and how many reports of them were seen: a
  // report is a run() rejecting with one, or an onError hook receiving one. Each must be exactly one.
  let failuresInjected = 0;
  let failuresReported = 0;
  const injected = (where: 'pool' | 'registry') => {
    fault(`${where}.fail`);
    failuresInjected++;
    return new InjectedFailure(`injected ${where} task failure`);
  };
  const reported = (error: InjectedFailure, how: string) => {
    error.reports++;
    failuresReported++;
    check(error.reports === 1, `${how}: a failure reported ${error.reports} times`);
  };
  /** A caught rejection: an injected failure (reported now), or one of the expected errors. */
  const outcome = (error: unknown, what: string) => {
    if (error instanceof InjectedFailure) reported(error, what);
    else check(expected(error), `${what}: unexpected ${String(error)}`);
  };
  /** How a task that heeds its signal ends on abort: its reason, or an AbortError (both are not failures). */
  const aborted = (signal: AbortSignal, where: 'pool' | 'registry'): unknown => {
    const kind = rand.int(where === 'registry' ? 3 : 2);
    if (kind === 0) return signal.reason;
    if (kind === 1) return new DOMException('The operation was aborted', 'AbortError');
    return new Error('wrapped abort', { cause: signal.reason }); // the registry follows `cause`
  };
  /**
   * A task body that settles a little later (0-3 ms), succeeding or failing with an injected
   * failure; it stops at its signal's abort unless `deaf` (a task hung in code that ignores it).
   */
  const later = (where: 'pool' | 'registry', signal: AbortSignal | undefined, deaf: boolean) =>
    new Promise<void>((resolve, reject) => {
      const fails = rand.chance(0.3);
      const listening = !deaf && signal !== undefined;
      const onAbort = () => {
        clearTimeout(timer);
        reject(aborted(signal!, where));
      };
      const timer = setTimeout(() => {
        if (listening) signal.removeEventListener('abort', onAbort);
        if (fails) reject(injected(where));
        else resolve();
      }, rand.int(4));
      if (listening) signal.addEventListener('abort', onAbort, { once: true });
    });

  // Pools: one current pool, shut down at random (with or without drain) and replaced by a new one.
  const poolError = (error: unknown) => {
    if (error instanceof InjectedFailure) reported(error, 'pool onError');
    else check(false, `pool onError: unexpected ${String(error)}`);
  };
  const newPool = (): PoolWatch => {
    const limit = 1 + rand.int(4);
    const pool = new WorkerPool({
      concurrency: limit,
      maxQueue: 1 + rand.int(32),
      timeout: rand.chance(0.2) ? 1 + rand.int(4) : undefined,
      name: 'soak-pool',
      onError: poolError,
    });
    return { pool, limit, running: 0, children: 0 };
  };
  let pool = newPool();
  const enter = (w: PoolWatch) => {
    w.running++;
    check(w.running <= w.limit, `pool: ${w.running} tasks running > concurrency ${w.limit}`);
    check(w.running <= w.pool.active, `pool: ${w.running} tasks running but ${w.pool.active} slots in use`);
  };
  const leave = (w: PoolWatch) => {
    w.running--;
  };
  /** A task of the pool, called with its signal: returns, throws, settles later, or runs a child. */
  const poolTask =
    (w: PoolWatch) =>
    (signal: AbortSignal): unknown => {
      enter(w);
      switch (rand.int(6)) {
        case 0:
          leave(w);
          return undefined;
        case 1:
          leave(w);
          throw injected('pool');
        case 2:
        case 3:
          return later('pool', signal, false).finally(() => leave(w));
        case 4:
          fault('pool.deaf');
          return later('pool', signal, true).finally(() => leave(w));
        default: {
          // A child run from inside the task: it runs on the parent's slot (seed 004's nesting).
          count('pool.nested');
          const child = w.pool.run(
            (s) => {
              w.children++;
              return later('pool', s, rand.chance(0.2)).finally(() => w.children--);
            },
            rand.chance(0.5) ? { signal } : undefined,
          );
          return watch(child)
            .then(noop, (error) => outcome(error, 'pool nested run'))
            .finally(() => leave(w));
        }
      }
    };
  /** A task that takes no signal (the pool's allocation-free path): returns, throws or ignores aborts. */
  const plainTask = (w: PoolWatch) => (): unknown => {
    enter(w);
    switch (rand.int(3)) {
      case 0:
        leave(w);
        return undefined;
      case 1:
        leave(w);
        throw injected('pool');
      default:
        return later('pool', undefined, true).finally(() => leave(w));
    }
  };

  // Registries: one current registry, shut down at random with a deadline and replaced. Shut-down
  // registries whose stragglers have not settled yet wait in `retiring`.
  let retiring: RegistryWatch[] = [];
  // Timeouts the registries reported, and timeouts seen on a task's `done`: equal at the end.
  const timeoutsReported = new WeakSet<TimeoutError>();
  let registryTimeoutReports = 0;
  let registryTimeoutsSeen = 0;
  const registryError = (error: unknown, info: TaskInfo) => {
    check(info.name === 'soak-task', `registry onError: task named ${info.name}`);
    if (error instanceof InjectedFailure) reported(error, 'registry onError');
    else if (error instanceof TimeoutError) {
      check(!timeoutsReported.has(error), 'registry onError: a timeout reported twice');
      timeoutsReported.add(error);
      registryTimeoutReports++;
      fault('registry.timeout');
    } else check(false, `registry onError: unexpected ${String(error)}`);
  };
  const newRegistry = (): RegistryWatch => ({
    registry: new TaskRegistry({ name: 'soak-registry', onError: registryError }),
    live: 0,
  });
  let registry = newRegistry();
  /**
   * A background task: returns, throws, settles later heeding or ignoring its signal, or (only
   * when an abort is sure to come: a timeout or a cancel) waits for its abort.
   */
  const registryTask =
    (r: RegistryWatch, abortComes: boolean) =>
    (signal: AbortSignal): unknown => {
      r.live++;
      check(r.live <= r.registry.size, `registry: ${r.live} tasks live but size ${r.registry.size}`);
      const done = () => {
        r.live--;
      };
      switch (rand.int(abortComes ? 6 : 5)) {
        case 0:
          done();
          return 'done';
        case 1:
          done();
          throw injected('registry');
        case 2:
        case 3:
          return later('registry', signal, false).finally(done);
        case 4:
          fault('registry.deaf');
          return later('registry', signal, true).finally(done);
        default:
          return new Promise((_, reject) => {
            signal.addEventListener('abort', () => reject(aborted(signal, 'registry')), { once: true });
          }).finally(done);
      }
    };
  const retire = async (w: PoolWatch, drain: boolean, deadline: number) => {
    const queued = w.pool.queued;
    const started = w.pool.active + w.children;
    const shutdown = watch(w.pool.shutdown(drain ? { drain, timeout: deadline } : undefined));
    check(w.pool.closed, 'pool: not closed after shutdown()');
    if (!drain) check(w.pool.queued === 0, 'pool: tasks still queued after shutdown()');
    // A second call without drain during a drain cancels at once.
    const again = drain && rand.chance(0.3) ? watch(w.pool.shutdown()) : undefined;
    const report = await shutdown;
    await again;
    // Without drain, every queued task is cancelled, and no more tasks are aborted than had started.
    if (!drain) {
      check(report.cancelled === queued, `pool shutdown: cancelled ${report.cancelled} of ${queued} queued`);
      check(report.aborted <= started, `pool shutdown: aborted ${report.aborted} of ${started} started`);
    }
    const late = await watch(w.pool.run(noop)).then(
      () => undefined,
      (error: unknown) => error,
    );
    check(late instanceof ClosedError, `pool: run() after shutdown() gave ${String(late)}`);
    const idle = await watch(w.pool.idle({ timeout: 5_000 })).then(
      () => undefined,
      (error: unknown) => error,
    );
    check(idle === undefined, `pool: not idle 5 s after shutdown(): ${String(idle)}`);
    check(
      w.running === 0 &&
        w.children === 0 &&
        w.pool.active === 0 &&
        w.pool.queued === 0 &&
        w.pool.abandoned === 0,
      `pool: idle() resolved with ${w.running} running, ${w.children} children, ${w.pool.active} active, ${w.pool.queued} queued, ${w.pool.abandoned} abandoned`,
    );
  };
  const shutDown = async (r: RegistryWatch, deadline: number) => {
    const live = r.registry.size;
    const report = await watch(r.registry.shutdown({ timeout: deadline }));
    const listed = report.cancelled.length + report.failed.length + report.stragglers.length;
    check(listed === live, `registry shutdown: ${listed} tasks in the report, ${live} were live`);
    for (const { error } of report.failed)
      check(
        error instanceof InjectedFailure && error.reports === 1,
        `registry shutdown: failed with ${String(error)} not reported exactly once`,
      );
    check(r.registry.closed, 'registry: not closed after shutdown()');
    let late: unknown;
    try {
      r.registry.spawn('soak-task', noop);
    } catch (error) {
      late = error;
    }
    check(late instanceof ClosedError, `registry: spawn() after shutdown() gave ${String(late)}`);
    if (r.registry.size > 0) retiring.push(r);
    // Registries whose stragglers have all settled are done with.
    retiring = retiring.filter((old) => {
      if (old.registry.size > 0) return true;
      check(old.live === 0, `registry: size 0 with ${old.live} tasks live`);
      return false;
    });
  };

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
      let allEnded: (() => void) | undefined; // set when the fan-out settled before its calls ended
      const signal = maybeAbort();
      let callerAborted = false;
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
                if (inFlight === 0) allEnded?.();
              }
            },
            { window, semaphores: [storage], signal, settle: rand.chance(0.5) },
          ),
        );
      } catch (error) {
        check(expected(error), `fanOut: unexpected ${String(error)}`);
        // Aborted before it settled: it settled at once, with the abort's reason or, when a call had
        // failed first and it was waiting for the others, with that failure (the first reason wins).
        callerAborted = signal?.aborted === true;
      }
      if (callerAborted && inFlight > 0) {
        // The caller's own abort settles a fan-out at once; the calls it left running keep their
        // permits (the check above) until they end, which the end of the soak waits for.
        void watch(
          new Promise<void>((resolve) => {
            allEnded = resolve;
          }),
        );
      } else {
        check(inFlight === 0, 'fanOut: settled with calls still running');
      }
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
    // WorkerPool.run with aborts, run and queue timeouts, a full line, failing and deaf tasks.
    async () => {
      count('pool.run');
      const w = pool;
      const options = rand.chance(0.3)
        ? undefined
        : {
            signal: maybeAbort(),
            timeout: maybeTimeout(),
            queueTimeout: rand.chance(0.2) ? rand.int(3) : undefined,
          };
      const task = options === undefined && rand.chance(0.5) ? plainTask(w) : poolTask(w);
      try {
        await watch(w.pool.run(task, options));
      } catch (error) {
        outcome(error, 'pool.run');
      }
      check(w.running <= w.limit, `pool: ${w.running} tasks running > concurrency ${w.limit}`);
    },
    // A random pool shutdown, with or without drain; the pool must go idle, a new one takes over.
    async () => {
      if (!rand.chance(0.05)) return;
      count('pool.shutdown');
      const old = pool;
      pool = newPool();
      const drain = rand.chance(0.5);
      fault(drain ? 'pool.drain' : 'pool.shutdown');
      await retire(old, drain, rand.int(6));
    },
    // TaskRegistry.spawn with timeouts, cancels, failing and deaf tasks; `done` always settles.
    async () => {
      count('registry.spawn');
      const r = registry;
      const timeout = rand.chance(0.2) ? rand.int(4) : undefined;
      const cancel = rand.chance(0.1);
      const task = r.registry.spawn('soak-task', registryTask(r, timeout !== undefined || cancel), {
        timeout,
      });
      if (cancel) {
        fault('registry.cancel');
        const reason = rand.chance(0.5) ? undefined : new Error('injected abort');
        if (rand.chance(0.5)) task.cancel(reason);
        else setTimeout(() => task.cancel(reason), rand.int(3));
      }
      const done = watch(task.done).then(noop, (error: unknown) => {
        if (error instanceof InjectedFailure)
          check(error.reports === 1, `registry: a failure reported ${error.reports} times`);
        else if (error instanceof TimeoutError) {
          registryTimeoutsSeen++;
          check(timeoutsReported.has(error), 'registry: a task timed out and onError never heard of it');
        } else
          check(
            expected(error) || (error as { name?: unknown }).name === 'AbortError',
            `registry task: unexpected ${String(error)}`,
          );
      });
      if (rand.chance(0.05)) {
        count('registry.list');
        check(r.registry.list().length === r.registry.size, 'registry: list() and size disagree');
      }
      if (rand.chance(0.3)) await done;
    },
    // A random registry shutdown with a deadline; stragglers settle later; a new registry takes over.
    async () => {
      if (!rand.chance(0.05)) return;
      count('registry.shutdown');
      fault('registry.shutdown');
      const old = registry;
      registry = newRegistry();
      await shutDown(old, rand.int(5));
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
            if (broken !== undefined) throw new InvariantError(`invariant broken: ${broken}`);
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
  const fail = (what: string) => {
    throw new Error(`soak failed at the end with --seed ${options.seed}: ${what}`);
  };
  queue.close();
  drain(queue);
  try {
    await retire(pool, rand.chance(0.5), 50);
    await shutDown(registry, 50);
  } catch (error) {
    fail((error as Error).message);
  }
  await sleep(10); // late aborts scheduled by the last ops
  for (let i = 0; i < 200 && retiring.some((r) => r.registry.size > 0); i++) await sleep(5);
  if (broken !== undefined) fail(`invariant broken: ${broken}`);
  if (outstanding !== 0) fail(`${outstanding} promises handed out never settled`);
  for (const r of retiring)
    if (r.registry.size > 0 || r.live > 0) fail(`a shut-down registry still holds ${r.registry.size} tasks`);
  if (failuresInjected !== failuresReported)
    fail(`${failuresInjected} task failures injected, ${failuresReported} reported`);
  if (registryTimeoutsSeen !== registryTimeoutReports)
    fail(`${registryTimeoutsSeen} registry tasks timed out, ${registryTimeoutReports} timeouts reported`);
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

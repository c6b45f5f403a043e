// What Lifecycle.use() accepts, and how each kind is stopped within a deadline and says what it left
// running. Every unwedge primitive is stopped through its own bounded shutdown, given what is left
// of the budget; what still runs is read from inspect(), so it carries names, ages and origins.
import { Server } from 'node:net';
import { type AbortHook, offAbort, onAbort } from '../core/abort.js';
import { asyncDisposeSymbol, disposeSymbol } from '../core/compat.js';
import { count } from '../core/count.js';
import { ignore } from '../core/never.js';
import { now } from '../core/track.js';
import * as check from '../core/validate.js';
import { inspectOne, label } from '../inspect/dump.js';
import { BasePool, listPool } from '../pool/base.js';
import { QueueConsumer } from '../queue/consumer.js';
import { BoundedQueue } from '../queue/queue.js';
import { TaskRegistry } from '../registry/registry.js';
import { Semaphore } from '../semaphore/semaphore.js';
import type { LifecycleFailure, Straggler } from './report.js';
import { ServerStep } from './server.js';

/**
 * What {@link Lifecycle.use} accepts: a node:http / https / net `Server`, every unwedge primitive
 * that runs or holds work (pools and their fronts, `TaskRegistry`, `BoundedQueue` and its
 * consumers, `RedisSemaphore`, the inspect watchers), and anything with `Symbol.asyncDispose`,
 * `close()`, `quit()`, `stop()`, `shutdown()` or `Symbol.dispose`, the first of these it has (so a
 * Redis client is quit, never sent `SHUTDOWN`, which would stop the Redis server).
 *
 * @example
 * ```ts
 * import { type Resource, Lifecycle } from 'unwedge';
 * const client: Resource = { close: async () => console.log('client closed') }; // → client closed
 * const life = new Lifecycle();
 * life.use(client);
 * await life.shutdown();
 * ```
 */
export type Resource =
  | Server
  | AsyncDisposable
  | Disposable
  | {
      /** Called with no arguments; awaited when it returns a promise. */
      close(): unknown;
    }
  | {
      /** Called with no arguments (an ioredis or node-redis client's), before any `shutdown()`; awaited. */
      quit(): unknown;
    }
  | {
      /** Called with no arguments; awaited when it returns a promise. */
      stop(): unknown;
    }
  | {
      /** Called with no arguments, when it has no `close()`, `quit()` or `stop()`; awaited when it returns a promise. */
      shutdown(): unknown;
    };

/** @internal What a step says of itself when something of it still runs. */
export type StepStragglers = Omit<Straggler, 'name'>;

/** @internal A resource, or a deferred function, as a Lifecycle's shutdown stops it. */
export interface Step {
  /** How the report names it. */
  readonly name: string;
  /**
   * Starts stopping it. While `force` is not aborted it lets work in flight finish (`left` is the
   * ms until then, for a primitive whose shutdown takes a deadline); when `force` aborts it stops
   * what still runs. Resolves when it has stopped, with the failures its own shutdown reported, or
   * rejects with its own failure; may never settle (a hung close), which the lifecycle bounds.
   * When `done` aborts the report has been given: it drops any wait it still has.
   */
  stop(left: number, force: AbortSignal, done: AbortSignal): Promise<readonly LifecycleFailure[] | undefined>;
  /** What of it still runs now; `undefined` when nothing does. */
  stragglers(): StepStragglers | undefined;
}

/** Until `signal` aborts (at once if it has): a promise that never rejects, and the hook to remove. */
function aborted(signal: AbortSignal): { promise: Promise<void>; hook: AbortHook | undefined } {
  let hook: AbortHook | undefined;
  const promise = new Promise<void>((resolve) => {
    hook = onAbort(signal, resolve);
    if (hook === undefined) resolve();
  });
  return { promise, hook };
}

/**
 * What inspect() shows of `primitive` (its summary and its waits, with their ages and origins),
 * or `summary` alone for one it does not list (a front that wraps a pool of its own).
 */
function seen(primitive: object, summary: () => string): StepStragglers {
  const report = inspectOne(primitive);
  return report === undefined
    ? { summary: summary(), running: [] }
    : { summary: report.summary, running: report.waits };
}

/** The pool contract: WorkerPool, the fronts, PiscinaPool. */
interface PoolLike {
  shutdown(options?: { drain?: boolean; timeout?: number }): Promise<unknown>;
  idle(options?: { signal?: AbortSignal }): Promise<void>;
  readonly active: number;
  readonly queued: number;
  readonly abandoned: number;
}

function isPool(x: object): x is PoolLike {
  const p = x as Partial<Record<keyof PoolLike | 'run', unknown>>;
  return (
    typeof p.run === 'function' &&
    typeof p.shutdown === 'function' &&
    typeof p.idle === 'function' &&
    typeof p.active === 'number'
  );
}

/** A pool drains its line until the deadline (its own `shutdown({ drain, timeout })`), then aborts what runs. */
function poolStep(pool: PoolLike, name: string): Step {
  if (pool instanceof BasePool) listPool(pool); // so that what it leaves running has its origins named
  return {
    name,
    async stop(left, force, done) {
      const { promise: forced, hook } = aborted(force);
      const drained = pool.shutdown({ drain: true, timeout: left });
      // The lifecycle's deadline and the pool's own are the same instant; whichever fires first aborts.
      void forced.then(() => pool.shutdown().catch(ignore));
      await drained;
      offAbort(hook);
      // What was aborted at the deadline settles now, or is named as left running.
      if (pool.active > 0) await pool.idle({ signal: done }).catch(ignore);
      return undefined;
    },
    stragglers() {
      if (pool.active + pool.queued === 0) return undefined;
      return seen(pool, () => `${pool.active} running (${pool.abandoned} abandoned), ${pool.queued} queued`);
    },
  };
}

/** A registry aborts every task at once and waits for them until the deadline (its own shutdown). */
function registryStep(registry: TaskRegistry, name: string): Step {
  return {
    name,
    async stop(left) {
      const report = await registry.shutdown({ timeout: left });
      return report.failed.map((f) => ({ name: `${name}: task ${JSON.stringify(f.name)}`, error: f.error }));
    },
    stragglers() {
      return registry.size === 0 ? undefined : seen(registry, () => `${registry.size} tasks`);
    },
  };
}

/**
 * A queue refuses new items at once and is drained (`join()`: every item taken and marked done)
 * until the deadline; then what is queued is dropped. A queue whose items are taken without
 * `taskDone()` never drains: it waits out the budget.
 */
function queueStep(queue: BoundedQueue<unknown>, name: string): Step {
  // What the deadline dropped: work never done, so the shutdown is not clean even once the queue is empty.
  let dropped = 0;
  return {
    name,
    async stop(_left, force, done) {
      queue.close();
      if (queue.unfinished === 0) return undefined;
      try {
        await queue.join({ signal: force });
      } catch {
        dropped = queue.size;
        queue.shutdown({ immediate: true });
        await queue.join({ signal: done }).catch(ignore);
      }
      return undefined;
    },
    stragglers() {
      if (queue.unfinished === 0 && dropped === 0) return undefined;
      const left =
        queue.unfinished === 0
          ? { summary: '', running: [] }
          : seen(queue, () => `${queue.size} queued, ${queue.unfinished - queue.size} taken and not done`);
      if (dropped === 0) return left;
      const cut = `${count(dropped, 'item')} dropped at the deadline, never handled`;
      return { summary: left.summary === '' ? cut : `${left.summary}; ${cut}`, running: left.running };
    },
  };
}

/**
 * A consumer's queue is closed, the consumer drains it until the deadline, then its handlers are
 * aborted; what it had not taken by then stays in the queue and is named in the report.
 */
function consumerStep(consumer: QueueConsumer<unknown>, name: string): Step {
  return {
    name,
    async stop(_left, force, done) {
      consumer.queue.close();
      const { promise: forced, hook } = aborted(force);
      await Promise.race([consumer.done, forced]);
      offAbort(hook);
      void consumer.stop();
      const { promise: given, hook: doneHook } = aborted(done);
      await Promise.race([consumer.done, given]);
      offAbort(doneHook);
      return undefined;
    },
    // What it never took is work dropped, as much as a handler cut off: both make the shutdown unclean.
    stragglers() {
      const { active, abandoned, queue } = consumer;
      if (active === 0 && queue.size === 0) return undefined;
      const parts: string[] = [];
      if (active > 0) parts.push(`${count(active, 'handler')} running (${abandoned} aborted)`);
      if (queue.size > 0) parts.push(`${count(queue.size, 'item')} left in the queue, never handled`);
      return { summary: parts.join(', '), running: [] };
    },
  };
}

/**
 * A function called once to stop something: a `defer`red cleanup (given the signal that aborts at
 * the deadline) or the method of any other resource. Left running while its result is pending.
 */
export function callStep(name: string, call: (force: AbortSignal) => unknown): Step {
  let started = 0;
  let settled = false;
  return {
    name,
    async stop(_left, force) {
      started = now();
      try {
        await call(force);
      } finally {
        settled = true;
      }
      return undefined;
    },
    stragglers() {
      if (settled) return undefined;
      return {
        summary: 'its stop had not settled',
        running: [
          {
            what: name,
            state: 'running',
            age: Math.round(now() - started),
            ageIsLowerBound: false,
            timeout: undefined,
            origin: [],
          },
        ],
      };
    },
  };
}

/** The name of a resource that has a `name`: `WorkerPool "feeds"`; else its class. */
function nameOf(kind: string, x: object): string {
  const name = (x as { name?: unknown }).name;
  return typeof name === 'string' ? label({ kind, name }) : kind;
}

/**
 * @internal The step that stops `x`, or a TypeError naming it when it is none of what
 * {@link Resource} lists. `name` replaces the name the report would give it.
 */
export function stepOf(x: unknown, name: string | undefined): Step {
  if (x === null || (typeof x !== 'object' && typeof x !== 'function')) unusable(x);
  const o = x as object;
  if (o instanceof Server) return new ServerStep(o, name);
  if (o instanceof TaskRegistry) return registryStep(o, name ?? nameOf('task registry', o));
  if (o instanceof BoundedQueue) return queueStep(o, name ?? nameOf('queue', o));
  if (o instanceof QueueConsumer) {
    const queue: BoundedQueue<unknown> = o.queue;
    return consumerStep(o, name ?? `consumer of ${nameOf('queue', queue)}`);
  }
  if (isPool(o)) return poolStep(o, name ?? nameOf('pool', o));
  const r = o as Partial<Record<string | symbol, unknown>>;
  const kind = name ?? nameOf(o.constructor?.name || 'resource', o);
  // `close()` and `quit()` before `shutdown()`: on a Redis client (ioredis, node-redis) `shutdown()`
  // is the SHUTDOWN command, which stops the Redis server itself; `quit()` is how such a client closes.
  for (const key of [asyncDisposeSymbol, 'close', 'quit', 'stop', 'shutdown', disposeSymbol] as const) {
    const method = r[key];
    if (typeof method === 'function') return callStep(kind, () => method.call(o));
  }
  return unusable(x);
}

function unusable(x: unknown): never {
  const hint =
    typeof x === 'function'
      ? ' (to run a function at shutdown, use defer())'
      : x instanceof Semaphore
        ? ' (a Semaphore runs nothing of its own to stop: register the pools and tasks that hold its permits)'
        : '';
  throw new TypeError(
    'resource must be a net/http Server, a pool, TaskRegistry, BoundedQueue or its consumer, ' +
      'RedisSemaphore or inspect watcher, or have Symbol.asyncDispose, close(), quit(), stop(), ' +
      `shutdown() or Symbol.dispose${hint}; received ${check.show(x)}`,
  );
}

// What fanOut and fanOutIterable are given (items, the function and what it gets, the options),
// and how it is checked: the options they share, the one flag each adds (`settle`, `ordered`), and
// the semaphores put in one global order so that two fan-outs naming the same semaphores in
// different orders cannot deadlock.
import * as check from '../core/validate.js';
import type { SemaphoreLike } from '../semaphore/semaphore.js';

/**
 * What each call of `fn` gets besides its item.
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { type FanOutContext, fanOut } from 'unwedge';
 * const label = (name: string, { index, signal }: FanOutContext) => sleep(1, `${index}: ${name}`, { signal });
 * console.log(await fanOut(['a', 'b'], label, { window: 2 })); // → [ '0: a', '1: b' ]
 * ```
 */
export interface FanOutContext {
  /** Aborted when the fan-out stops: first error (without `settle`), `options.signal`, or the consumer leaving. */
  signal: AbortSignal;
  /** The item's position in the input. */
  index: number;
}

/**
 * The function {@link fanOut} calls for each item.
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { type FanOutFn, fanOut } from 'unwedge';
 * const double: FanOutFn<number, number> = (n, { signal }) => sleep(1, n * 2, { signal });
 * console.log(await fanOut([1, 2, 3], double, { window: 2 })); // → [ 2, 4, 6 ]
 * ```
 */
export type FanOutFn<T, R> = (item: T, context: FanOutContext) => R | PromiseLike<R>;
/**
 * What {@link fanOut} reads items from: any iterable, sync or async (a generator, a stream).
 *
 * @example
 * ```ts
 * import { Readable } from 'node:stream';
 * import { type FanOutInput, fanOut } from 'unwedge';
 * const lines: FanOutInput<string> = Readable.from(['a', 'b', 'c']); // read as the window frees
 * console.log(await fanOut(lines, (line) => line.toUpperCase(), { window: 2 })); // → [ 'A', 'B', 'C' ]
 * ```
 */
export type FanOutInput<T> = Iterable<T> | AsyncIterable<T>;

/**
 * A pool that calls can be submitted to: `WorkerPool`, or any front with its `run` contract.
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { fanOut, type PoolLike, WorkerPool } from 'unwedge';
 * const thumbnails = new WorkerPool({ concurrency: 2, name: 'thumbnails' }); // shared by every request
 * const pool: PoolLike = thumbnails; // or a front: unwedge/piscina, unwedge/p-queue, unwedge/p-limit
 * const sizes = await fanOut([64, 128, 256], (px, { signal }) => sleep(5, `${px}px`, { signal }), { window: 3, pool });
 * console.log(sizes); // → [ '64px', '128px', '256px' ]
 * await thumbnails.shutdown();
 * ```
 */
export interface PoolLike {
  /** Runs `task` with a signal that aborts when `options.signal` does (or the pool shuts down). */
  run<R>(task: (signal: AbortSignal) => R | PromiseLike<R>, options?: { signal?: AbortSignal }): Promise<R>;
}

/**
 * Options of {@link fanOut} and {@link fanOutIterable}.
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { type FanOutOptions, fanOut, Semaphore, WorkerPool } from 'unwedge';
 * const STORAGE = new Semaphore(32, { name: 'storage' }); // process-wide
 * const pool = new WorkerPool({ concurrency: 8, name: 'downloads' });
 * const request = new AbortController(); // aborted when the client goes away
 * const options: FanOutOptions = { window: 4, semaphores: [STORAGE], pool, signal: request.signal };
 * const chunks = await fanOut([1, 2, 3, 4, 5], (id, { signal }) => sleep(5, id, { signal }), options);
 * console.log(chunks); // → [ 1, 2, 3, 4, 5 ]
 * await pool.shutdown();
 * ```
 */
export interface FanOutOptions {
  /** At most this many calls of `fn` in flight for this fan-out: a positive integer. */
  window: number;
  /**
   * Process-wide limits shared with other fan-outs: each call takes one permit of every one
   * (always in one global order, so fan-outs naming them in different orders cannot deadlock)
   * before it starts, and returns them when it settles.
   */
  semaphores?: readonly SemaphoreLike[];
  /** Runs each call on this pool, after its permits are taken (a call never holds a pool slot while it waits). */
  pool?: PoolLike;
  /** Stops the fan-out: nothing new starts, calls in flight are aborted, and it rejects with the reason. */
  signal?: AbortSignal;
}

/** @internal Checked arguments of fanOut and fanOutIterable. */
export interface Parsed {
  window: number;
  semaphores: SemaphoreLike[];
  pool: PoolLike | undefined;
  signal: AbortSignal | undefined;
  /** `settle` (fanOut) or `ordered` (fanOutIterable), as given. */
  flag: boolean | undefined;
}

const SHARED_KEYS = ['window', 'semaphores', 'pool', 'signal'] as const;
const KEYS = { settle: [...SHARED_KEYS, 'settle'], ordered: [...SHARED_KEYS, 'ordered'] } as const;

/** @internal Checks the arguments; `flag` is the option only one of the two takes (`settle` or `ordered`). */
export function parse(
  items: unknown,
  fn: unknown,
  options: FanOutOptions,
  flag: 'settle' | 'ordered',
): Parsed {
  if (
    items === null ||
    typeof items !== 'object' ||
    (typeof (items as Iterable<unknown>)[Symbol.iterator] !== 'function' &&
      typeof (items as AsyncIterable<unknown>)[Symbol.asyncIterator] !== 'function')
  ) {
    throw new TypeError(`items must be an iterable or async iterable; received ${check.show(items)}`);
  }
  check.func(fn, 'fn');
  if (options === undefined)
    throw new TypeError('options must be an object with a window; received undefined');
  const o = check.options<FanOutOptions & { settle?: boolean; ordered?: boolean }>(options, KEYS[flag]);
  const window = check.integer(o.window, 'options.window', 1);
  const signal = check.signal(o.signal, 'options.signal');
  const semaphores = o.semaphores === undefined ? [] : o.semaphores;
  if (!Array.isArray(semaphores)) {
    throw new TypeError(
      `options.semaphores must be an array of semaphores; received ${check.show(semaphores)}`,
    );
  }
  semaphores.forEach((s, i) => {
    if (s === null || typeof s !== 'object' || typeof (s as SemaphoreLike).acquire !== 'function') {
      throw new TypeError(
        `options.semaphores[${i}] must have an acquire() method; received ${check.show(s)}`,
      );
    }
  });
  const pool = o.pool;
  if (pool !== undefined && (pool === null || typeof (pool as PoolLike).run !== 'function')) {
    throw new TypeError(`options.pool must have a run() method; received ${check.show(pool)}`);
  }
  const given = check.boolean(o[flag], `options.${flag}`);
  return { window, semaphores: globalOrder(semaphores), pool, signal, flag: given };
}

// One global order for every semaphore ever gated on: the order each was first seen in.
const rank = new WeakMap<SemaphoreLike, number>();
let nextRank = 0;

function globalOrder(semaphores: readonly SemaphoreLike[]): SemaphoreLike[] {
  for (const s of semaphores) if (!rank.has(s)) rank.set(s, nextRank++);
  return [...new Set(semaphores)].sort((a, b) => rank.get(a)! - rank.get(b)!);
}

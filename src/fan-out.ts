import { endCall, startCall } from './core/live.js';
import { type Call, UNTIMED, type WaitOutcome } from './core/track.js';
import * as check from './core/validate.js';
import { ONCE } from './core/wait.js';
import type { Link } from './core/waiters.js';
import { type Permit, runInPermit, type SemaphoreLike } from './semaphore.js';

/** What each call of `fn` gets besides its item. */
export interface FanOutContext {
  /** Aborted when the fan-out stops: first error (without `settle`), `options.signal`, or the consumer leaving. */
  signal: AbortSignal;
  /** The item's position in the input. */
  index: number;
}

/** A pool that calls can be submitted to: `WorkerPool`, or any front with its `run` contract. */
export interface PoolLike {
  /** Runs `task` with a signal that aborts when `options.signal` does (or the pool shuts down). */
  run<R>(task: (signal: AbortSignal) => R | PromiseLike<R>, options?: { signal?: AbortSignal }): Promise<R>;
}

/** Options of {@link fanOut} and {@link fanOutIterable}. */
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

/** The function {@link fanOut} calls for each item. */
export type FanOutFn<T, R> = (item: T, context: FanOutContext) => R | PromiseLike<R>;
/** What {@link fanOut} reads items from: any iterable, sync or async (a generator, a stream). */
export type FanOutInput<T> = Iterable<T> | AsyncIterable<T>;

/**
 * Calls `fn` for every item with at most `options.window` calls in flight, each gated by one
 * permit of every semaphore in `options.semaphores`, and resolves with the results in input
 * order. Input is read only as the window frees. Every call runs in the async context of this
 * `fanOut()` call (AsyncLocalStorage), on a pool too.
 *
 * Without `settle`, the first error aborts the calls in flight (through their `signal`), starts
 * nothing new, and rejects with that error **after** those calls have settled: when the promise
 * settles, nothing it started is still running. With `settle: true`, item errors never reject;
 * it resolves with a `PromiseSettledResult` per item. A call that its pool abandoned (a timeout, an
 * abort) keeps its permits and its window place until it settles. `options.signal` aborting stops it
 * too, aborts the calls in flight, and rejects at once with exactly its reason (or, when a call had
 * already failed and it was waiting for the others, at once with that failure: the first reason
 * wins, so that no failure goes unseen); calls that ignore their signal go on holding their permits
 * and pool slots until they settle.
 *
 * @example
 * ```ts
 * import { fanOut, Semaphore } from 'unwedge';
 * const STORAGE_CHUNKS = new Semaphore(32, { name: 'storage-chunks' }); // one per process
 * const chunks = await fanOut(chunkIds, (id, { signal }) => download(id, { signal }), {
 *   window: 8,
 *   semaphores: [STORAGE_CHUNKS],
 * });
 * ```
 */
export function fanOut<T, R>(
  items: FanOutInput<T>,
  fn: FanOutFn<T, R>,
  options: FanOutOptions & { settle?: false },
): Promise<Awaited<R>[]>;
export function fanOut<T, R>(
  items: FanOutInput<T>,
  fn: FanOutFn<T, R>,
  options: FanOutOptions & { settle: true },
): Promise<PromiseSettledResult<Awaited<R>>[]>;
export function fanOut<T, R>(
  items: FanOutInput<T>,
  fn: FanOutFn<T, R>,
  options: FanOutOptions & { settle?: boolean },
): Promise<Awaited<R>[] | PromiseSettledResult<Awaited<R>>[]>;
export function fanOut<T, R>(
  items: FanOutInput<T>,
  fn: FanOutFn<T, R>,
  options: FanOutOptions & { settle?: boolean },
): Promise<unknown[]> {
  let parsed: Parsed;
  let settle: boolean;
  try {
    parsed = parse(items, fn, options, 'settle');
    settle = parsed.flag ?? false;
  } catch (error) {
    return Promise.reject(error);
  }
  if (parsed.signal?.aborted) return Promise.reject(parsed.signal.reason);
  return new Promise((resolve, reject) => {
    const results: unknown[] = [];
    const run = new Run<T, R>(items, fn, parsed, settle, {
      results,
      end(failed, reason) {
        if (failed) reject(reason);
        else resolve(results);
      },
    });
    startCall(run, fanOut);
    run.pump();
  });
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

/** @internal Where a Run reports its results. */
export interface Sink {
  /** Array mode: results are stored here by index, and their slot freed at once. */
  results?: unknown[];
  /** Stream mode: a call settled. The sink calls `run.free()` once it no longer holds the result. */
  result?(index: number, ok: boolean, value: unknown): void;
  /** Everything settled: completed, or stopped (`failed`) with `reason`. Called once. */
  end(failed: boolean, reason?: unknown): void;
}

/**
 * One fan-out: reads input as slots free, starts calls, and reports each result to its sink. A
 * slot is held from the moment an item is read until the sink frees it, so the sink's own
 * buffer counts against the window.
 */
export class Run<T, R> implements Call {
  /** For `inspect()`: when the call started (with timing on). */
  since = UNTIMED;
  declare weak?: WeakRef<Call>;
  prev: Link | undefined = undefined;
  next: Link | undefined = undefined;
  linked = false;
  private readonly controller = new AbortController();
  /** The controller's signal, read once (its getter costs on every item). */
  private readonly signal: AbortSignal;
  /** No semaphore and no pool: items call `fn` directly. */
  private readonly direct: boolean;
  private iterator: Iterator<T> | AsyncIterator<T> | undefined;
  private readonly sync: boolean;
  private used = 0; // slots: calls in flight plus results the sink still holds
  private inFlight = 0;
  private index = 0;
  private exhausted = false;
  private pulling = false;
  private stopped = false;
  private failed = false;
  private reason: unknown = undefined;
  private ended = false;
  private readonly onAbort: (() => void) | undefined;

  constructor(
    private readonly items: FanOutInput<T>,
    private readonly fn: FanOutFn<T, R>,
    private readonly options: Parsed,
    private readonly settle: boolean,
    private readonly sink: Sink,
  ) {
    this.sync = typeof (items as Iterable<T>)[Symbol.iterator] === 'function';
    this.signal = this.controller.signal;
    this.direct = options.semaphores.length === 0 && options.pool === undefined;
    const signal = options.signal;
    if (signal !== undefined) {
      // The caller's own abort ends the fan-out at once, even if a call ignores its signal: the
      // calls in flight keep their permits and pool slots until they really settle. Listened to
      // from the first pump(), so that an iterable never iterated adds no listener.
      this.onAbort = () => this.stop(true, signal.reason, true);
    }
  }

  /** Reads and starts items while slots are free. */
  pump(): void {
    if (this.pulling) return;
    if (this.iterator === undefined && this.onAbort !== undefined && !this.ended)
      this.options.signal!.addEventListener('abort', this.onAbort, ONCE);
    try {
      this.iterator ??= this.sync
        ? (this.items as Iterable<T>)[Symbol.iterator]()
        : (this.items as AsyncIterable<T>)[Symbol.asyncIterator]();
      if (this.sync) {
        // `pulling` also guards the sync loop: a call that settles synchronously frees its slot
        // inside start(), and this loop, not a nested one, goes on to fill it.
        const it = this.iterator as Iterator<T>;
        this.pulling = true;
        try {
          while (!this.stopped && !this.exhausted && this.used < this.options.window) {
            const next = it.next();
            if (next.done) this.exhausted = true;
            else this.start(next.value);
          }
        } finally {
          this.pulling = false;
        }
        this.maybeEnd();
      } else {
        this.pumpAsync();
      }
    } catch (error) {
      this.exhausted = true; // a throwing iterator is finished
      this.stop(true, error);
    }
  }

  private async pumpAsync(): Promise<void> {
    this.pulling = true;
    const it = this.iterator as AsyncIterator<T>;
    try {
      while (!this.stopped && !this.exhausted && this.used < this.options.window) {
        const next = await it.next();
        if (next.done) this.exhausted = true;
        else if (this.stopped)
          break; // stopped while we were reading: don't start it
        else this.start(next.value);
      }
    } catch (error) {
      this.exhausted = true;
      this.stop(true, error);
    } finally {
      this.pulling = false;
    }
    this.maybeEnd();
  }

  private start(item: T): void {
    const index = this.index++;
    this.used++;
    this.inFlight++;
    const context: FanOutContext = { signal: this.signal, index };
    let result: unknown;
    try {
      result = this.direct ? this.fn(item, context) : this.gated(item, context);
    } catch (error) {
      this.settled(index, false, error);
      return;
    }
    // Hot path: without `settle` an error needs no index, so one closure per call is enough.
    Promise.resolve(result).then(
      (value) => this.settled(index, true, value),
      this.settle ? (error: unknown) => this.settled(index, false, error) : this.failedCall,
    );
  }

  private readonly failedCall = (error: unknown): void => this.settled(-1, false, error);

  /**
   * Takes one permit of each semaphore in global order, then runs the call (on the pool, if any).
   * Settles with the call's outcome, or the pool's (a timeout, an abort, a shutdown), but never
   * before the call itself has settled: a call the pool abandoned still holds its permits and its
   * place in the window, so that `window` and the semaphores limit what really runs.
   */
  private async gated(item: T, context: FanOutContext): Promise<unknown> {
    const permits: Permit[] = [];
    let running: Promise<unknown> | undefined;
    try {
      for (const semaphore of this.options.semaphores) {
        permits.push(await semaphore.acquire({ signal: context.signal }));
      }
      const call = (signal: AbortSignal) =>
        this.fn(item, signal === context.signal ? context : { signal, index: context.index });
      const label = `fanOut item ${context.index}`;
      const inPermits = (i: number, signal: AbortSignal): unknown =>
        i === permits.length ? call(signal) : runInPermit(permits[i]!, label, () => inPermits(i + 1, signal));
      const pool = this.options.pool;
      if (pool === undefined) return await inPermits(0, context.signal);
      const task = (signal: AbortSignal): unknown => {
        const result = inPermits(0, signal); // a synchronous throw ends the call at once
        running = Promise.resolve(result).then(ignore, ignore);
        return result;
      };
      try {
        return await pool.run(task, { signal: context.signal });
      } catch (error) {
        // The pool gave up on a call that still runs: without `settle` that error stops the fan-out
        // now (nothing new starts), though this call keeps its permits and window place until it ends.
        if (running !== undefined && !this.settle) this.stop(true, error);
        throw error;
      } finally {
        if (running !== undefined) await running;
      }
    } finally {
      for (const permit of permits) permit.release();
    }
  }

  private settled(index: number, ok: boolean, value: unknown): void {
    this.inFlight--;
    if (!ok && !this.settle && !this.stopped) this.stop(true, value);
    const results = this.sink.results;
    if (this.stopped) {
      this.used--; // a stopped fan-out reports nothing more
    } else if (results !== undefined) {
      results[index] = this.settle
        ? ok
          ? { status: 'fulfilled', value }
          : { status: 'rejected', reason: value }
        : value;
      this.used--;
      if (!this.exhausted) {
        this.pump();
        return; // pump() ends the run if this was the last call
      }
    } else {
      this.sink.result!(index, ok, value);
    }
    this.maybeEnd();
  }

  /** The sink no longer holds one result: its slot is free for the next item. */
  free(): void {
    this.used--;
    if (!this.stopped && !this.exhausted) this.pump();
    else this.maybeEnd();
  }

  /**
   * Stops: starts nothing new and aborts the calls in flight. The first reason wins. The run ends
   * when they have settled, or at once with `now` (the caller's own signal).
   */
  stop(failed: boolean, reason: unknown, now = false): void {
    if (this.stopped) {
      if (now) this.endNow();
      return;
    }
    this.stopped = true;
    this.failed = failed;
    this.reason = reason;
    // The caller's abort listener stays until the run ends: while a stopped run waits for calls that
    // ignore their signal, the caller's abort still ends it at once (endNow removes it).
    this.controller.abort(reason);
    if (!this.exhausted) {
      this.exhausted = true;
      // Let a generator run its `finally` blocks; an error from return() is not ours to report.
      if (!this.pulling) Promise.resolve(this.iterator?.return?.()).catch(() => {});
    }
    if (now) this.endNow();
    else this.maybeEnd();
  }

  /** Ends the run now, whatever is still in flight (its calls go on holding what they hold). */
  private endNow(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.onAbort !== undefined) this.options.signal!.removeEventListener('abort', this.onAbort);
    endCall(this, this.outcome());
    this.sink.end(this.failed, this.reason);
  }

  /** Ends once nothing is in flight and either input is done or the run was stopped. */
  private maybeEnd(): void {
    if (this.ended || this.inFlight > 0 || this.pulling || !(this.exhausted || this.stopped)) return;
    if (!this.stopped && this.used > 0) return; // the sink still holds results to hand out
    this.endNow();
  }

  get kind(): string {
    return 'fanOut';
  }

  private outcome(): WaitOutcome {
    if (!this.stopped) return 'granted';
    if (!this.failed) return 'aborted'; // the consumer stopped iterating
    const signal = this.options.signal;
    return signal?.aborted === true && this.reason === signal.reason ? 'aborted' : 'failed';
  }

  /** For `inspect()`: the window, what is in flight, and what the sink still holds. */
  describeCall() {
    const held = this.used - this.inFlight;
    let what = `window ${this.options.window}: ${this.inFlight} in flight, ${this.index} started`;
    if (held > 0) what += `, ${held} waiting to be taken`;
    const gates = this.options.semaphores.map((s) => {
      const name = (s as { name?: unknown }).name;
      return typeof name === 'string' ? `semaphore ${JSON.stringify(name)}` : 'a semaphore';
    });
    if (gates.length > 0) what += `; gated by ${gates.join(', ')}`;
    if (this.options.pool !== undefined) what += '; on a pool';
    return { what, timeout: undefined };
  }
}

function ignore(): void {}

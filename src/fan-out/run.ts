// The engine of fanOut and fanOutIterable: one Run reads the input as slots free, starts each call
// (gated by the semaphores, on the pool), and hands each result to its sink: fanOut's array, or
// fanOutIterable's buffer. Its lifecycle is one tagged state; every transition is in this file.
import { type AbortHook, offAbort, onAbort } from '../core/abort.js';
import { endCall } from '../core/live.js';
import { ignore, unreachable } from '../core/never.js';
import { type Call, UNTIMED, type WaitOutcome } from '../core/track.js';
import type { Link } from '../core/waiters.js';
import { gated } from './gate.js';
import type { FanOutContext, FanOutFn, FanOutInput, Parsed } from './options.js';

/** @internal Where a Run reports its results. */
export interface Sink {
  /** Array mode: results are stored here by index, and their slot freed at once. */
  results?: unknown[];
  /** Stream mode: a call settled. The sink calls `run.free()` once it no longer holds the result. */
  result?(index: number, ok: boolean, value: unknown): void;
  /** Everything settled: completed, or stopped (`failed`) with `reason`. Called once. */
  end(failed: boolean, reason?: unknown): void;
}

/** Stopped by the first reason: `failed` is false when the consumer of fanOutIterable left. */
interface Stopping {
  readonly tag: 'stopping';
  readonly failed: boolean;
  readonly reason: unknown;
}

/**
 * Where a Run is. `'idle'`: not pumped yet, so no iterator and no listener on the caller's signal.
 * `'reading'`: reads input as slots free. `'draining'`: the input is done; the run waits for the
 * calls in flight and for the sink to hand out what it holds. `'stopping'`: nothing new starts and
 * the calls in flight were aborted; the run waits for them (and for a read under way), or ends at
 * once on the caller's abort. `'ended'`: the sink was told; calls still in flight after the
 * caller's abort go on holding their permits and pool slots until they settle.
 */
type State<T> =
  | { readonly tag: 'idle' }
  | { readonly tag: 'reading'; readonly iterator: Iterator<T> | AsyncIterator<T> }
  | { readonly tag: 'draining' }
  | Stopping
  | { readonly tag: 'ended' };

const IDLE = { tag: 'idle' } as const;
const DRAINING = { tag: 'draining' } as const;
const ENDED = { tag: 'ended' } as const;

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
  private state: State<T> = IDLE;
  private readonly controller = new AbortController();
  /** The controller's signal, read once (its getter costs on every item). */
  private readonly signal: AbortSignal;
  /** No semaphore and no pool: items call `fn` directly. */
  private readonly direct: boolean;
  private readonly sync: boolean;
  private used = 0; // slots: calls in flight plus results the sink still holds
  private inFlight = 0;
  private index = 0;
  /** A read of the input is under way: the run does not end before it returns, nor read twice at once. */
  private pulling = false;
  private readonly onAbort: (() => void) | undefined;
  /** Its place among the abort listeners of the caller's signal, from open() until it ends. */
  private abortHook: AbortHook | undefined = undefined;

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
      // calls in flight keep their permits and pool slots until they really settle.
      this.onAbort = () => this.stop(true, signal.reason, true);
    }
  }

  /** Reads and starts items while slots are free. */
  pump(): void {
    if (this.pulling) return;
    try {
      const state = this.state.tag === 'idle' ? this.open() : this.state;
      switch (state.tag) {
        case 'reading':
          if (this.sync) this.readSync(state.iterator as Iterator<T>);
          else void this.readAsync(state.iterator as AsyncIterator<T>);
          return;
        case 'idle':
        case 'draining':
        case 'stopping':
        case 'ended':
          this.maybeEnd();
          return;
        default:
          unreachable(state);
      }
    } catch (error) {
      this.readFailed(error);
    }
  }

  /**
   * `'idle'` → `'reading'`: listens to the caller's signal and opens the input. Listened to from the
   * first pump(), so that an iterable never iterated adds no listener.
   */
  private open(): State<T> {
    if (this.onAbort !== undefined) this.abortHook = onAbort(this.options.signal!, this.onAbort);
    const iterator = this.sync
      ? (this.items as Iterable<T>)[Symbol.iterator]()
      : (this.items as AsyncIterable<T>)[Symbol.asyncIterator]();
    // Opening the input ran the caller's code, which may have aborted the signal: the run has
    // stopped (or ended) meanwhile, and must not start reading. The input is closed unread.
    if (this.state.tag !== 'idle') {
      try {
        Promise.resolve(iterator.return?.()).then(undefined, ignore);
      } catch {}
      return this.state;
    }
    this.state = { tag: 'reading', iterator };
    return this.state;
  }

  private readSync(it: Iterator<T>): void {
    // `pulling` also guards the sync loop: a call that settles synchronously frees its slot inside
    // start(), and this loop, not a nested one, goes on to fill it.
    this.pulling = true;
    try {
      while (this.state.tag === 'reading' && this.used < this.options.window) {
        const next = it.next();
        if (next.done) this.inputDone();
        else this.start(next.value);
      }
    } finally {
      this.pulling = false;
    }
    this.maybeEnd();
  }

  private async readAsync(it: AsyncIterator<T>): Promise<void> {
    this.pulling = true;
    try {
      while (this.state.tag === 'reading' && this.used < this.options.window) {
        const next = await it.next();
        if (next.done) this.inputDone();
        else if (this.state.tag !== 'reading')
          break; // stopped while we were reading: don't start it
        else this.start(next.value);
      }
    } catch (error) {
      this.readFailed(error);
    } finally {
      this.pulling = false;
    }
    this.maybeEnd();
  }

  /** `'reading'` → `'draining'`: the input is done. A run stopped meanwhile stays stopped. */
  private inputDone(): void {
    if (this.state.tag === 'reading') this.state = DRAINING;
  }

  /** The input threw: it is finished (so not return()ed), and the run stops with that error. */
  private readFailed(error: unknown): void {
    this.inputDone();
    this.stop(true, error);
  }

  private start(item: T): void {
    const index = this.index++;
    this.used++;
    this.inFlight++;
    const context: FanOutContext = { signal: this.signal, index };
    let result: unknown;
    try {
      result = this.direct
        ? this.fn(item, context)
        : gated(this.fn, item, context, this.options, this.settle ? undefined : this.abandoned);
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
  /** The pool gave up on a call that still runs: without `settle`, that error stops the fan-out now. */
  private readonly abandoned = (error: unknown): void => this.stop(true, error);

  private settled(index: number, ok: boolean, value: unknown): void {
    this.inFlight--;
    if (!ok && !this.settle) this.stop(true, value); // once stopped, the first reason stands
    const state = this.state;
    switch (state.tag) {
      case 'idle':
      case 'reading':
      case 'draining': {
        const results = this.sink.results;
        if (results === undefined) {
          this.sink.result!(index, ok, value);
          break;
        }
        results[index] = this.settle
          ? ok
            ? { status: 'fulfilled', value }
            : { status: 'rejected', reason: value }
          : value;
        this.used--;
        if (state.tag === 'draining') break;
        this.pump(); // which ends the run if this was the last call
        return;
      }
      case 'stopping':
      case 'ended':
        this.used--; // a stopped fan-out reports nothing more
        break;
      default:
        unreachable(state);
    }
    this.maybeEnd();
  }

  /** The sink no longer holds one result: its slot is free for the next item. */
  free(): void {
    this.used--;
    switch (this.state.tag) {
      case 'idle':
      case 'reading':
        this.pump();
        return;
      case 'draining':
      case 'stopping':
      case 'ended':
        this.maybeEnd();
        return;
      default:
        unreachable(this.state);
    }
  }

  /**
   * Stops: starts nothing new and aborts the calls in flight. The first reason wins. The run ends
   * when they have settled, or at once with `now` (the caller's own signal).
   */
  stop(failed: boolean, reason: unknown, now = false): void {
    const state = this.state;
    switch (state.tag) {
      case 'idle':
      case 'reading':
      case 'draining':
        this.state = { tag: 'stopping', failed, reason };
        // The caller's abort listener stays until the run ends: while a stopped run waits for calls
        // that ignore their signal, the caller's abort still ends it at once.
        this.controller.abort(reason);
        // Let a generator run its `finally` blocks; an error from return() is not ours to report.
        if (state.tag === 'reading' && !this.pulling)
          Promise.resolve(state.iterator.return?.()).catch(() => {});
        break;
      case 'stopping':
        if (now) break; // the caller's abort ends a run that waits for its calls
        return;
      case 'ended':
        return;
      default:
        unreachable(state);
    }
    this.maybeEnd(now);
  }

  /**
   * `'draining'` or `'stopping'` → `'ended'`, once no call and no read is in flight and, after the
   * input is done, the sink holds no result; with `now`, a stopped run ends at once, whatever is
   * still in flight (its calls go on holding what they hold).
   */
  private maybeEnd(now = false): void {
    const state = this.state;
    switch (state.tag) {
      case 'idle':
      case 'reading':
      case 'ended':
        return;
      case 'draining':
        // Calls or a read in flight, or results the sink has not handed out yet.
        if (this.inFlight > 0 || this.pulling || this.used > 0) return;
        break;
      case 'stopping':
        if (!now && (this.inFlight > 0 || this.pulling)) return;
        break;
      default:
        unreachable(state);
    }
    this.state = ENDED;
    offAbort(this.abortHook);
    this.abortHook = undefined;
    if (state.tag === 'draining') {
      endCall(this, 'granted');
      this.sink.end(false);
    } else {
      endCall(this, this.outcome(state));
      this.sink.end(state.failed, state.reason);
    }
  }

  get kind(): string {
    return 'fanOut';
  }

  private outcome(stopped: Stopping): WaitOutcome {
    if (!stopped.failed) return 'aborted'; // the consumer stopped iterating
    const signal = this.options.signal;
    return signal?.aborted === true && stopped.reason === signal.reason ? 'aborted' : 'failed';
  }

  /** For `inspect()`: the window, what is in flight, and what the sink still holds. */
  describeCall(quote: (name: string) => string = JSON.stringify) {
    const held = this.used - this.inFlight;
    let what = `window ${this.options.window}: ${this.inFlight} in flight, ${this.index} started`;
    if (held > 0) what += `, ${held} waiting to be taken`;
    const gates = this.options.semaphores.map((s) => {
      const name = (s as { name?: unknown }).name;
      return typeof name === 'string' ? `semaphore ${quote(name)}` : 'a semaphore';
    });
    if (gates.length > 0) what += `; gated by ${gates.join(', ')}`;
    if (this.options.pool !== undefined) what += '; on a pool';
    return { what, timeout: undefined };
  }
}

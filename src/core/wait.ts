// The one mechanism every wait in unwedge goes through: a parked waiter whose wait ends by being
// served, by its timeout, or by its signal — and whose timer and abort listener are removed on
// every one of those paths.

import { ClosedError, TimeoutError } from '../errors.js';
import { type AbortHook, offAbort, onAbort } from './abort.js';
import { enders, notifyEnded, publishEnd, publishStart, watchingWaits } from './channels.js';
import { endCall } from './live.js';
import { ignore } from './never.js';
import { recordOrigin } from './origins.js';
import { clearTimer, startTimer, type Timer } from './timer.js';
import {
  type Call,
  flags,
  NOT_WAITING,
  now,
  type Tracked,
  UNTIMED,
  type WaitLabel,
  type WaitOutcome,
} from './track.js';
import type { Link, WaiterList } from './waiters.js';

/** A parked caller: a node of its host's FIFO plus the means to settle it. */
// Declared as methods (bivariant), so that any Waiter<T> can be handled as a Waiter<unknown>.
export interface Waiter<T> {
  resolve(value: T): void;
  reject(reason: unknown): void;
}

// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: resolve/reject are assigned in park().
// biome-ignore lint/correctness/noUnusedVariables: T types the merged interface's resolve.
export class Waiter<T> implements Link, Tracked {
  prev: Link | undefined = undefined;
  next: Link | undefined = undefined;
  linked = false;
  signal: AbortSignal | undefined = undefined;
  timer: Timer | undefined = undefined;
  /** Its place among the abort listeners of `signal` (core/abort.ts), while one is wanted. */
  hook: AbortHook | undefined = undefined;
  /** When `park` put it in line (`performance.now()`, or UNTIMED); NOT_WAITING once its wait ended, or if never parked. */
  since = NOT_WAITING;
}

/** A thenable that rejects with `reason`: resolving a promise with it rejects that promise. */
class Rejection {
  constructor(private readonly reason: unknown) {}
  // biome-ignore lint/suspicious/noThenProperty: this is a thenable on purpose (see resolveOnly).
  then(_: unknown, reject: (reason: unknown) => void): void {
    reject(this.reason);
  }
}

/**
 * Makes the waiters of `kind` keep only their promise's resolve function: they reject by
 * resolving with a thenable that rejects (a microtask later), and the reject function that
 * `new Promise` hands over is dropped by a no-op setter. One function and one field less per
 * parked waiter: a fifth of a queued pool task's heap, which took WorkerPool.run from 1.45x to
 * 1.0x the floor, and Semaphore.run's queued task from 344 to 271 bytes (bench/, floor 274).
 */
export function resolveOnly(kind: { prototype: Waiter<unknown> }): void {
  Object.defineProperty(kind.prototype, 'reject', {
    get(this: Waiter<unknown>) {
      return (reason: unknown) => this.resolve(new Rejection(reason));
    },
    set: ignore,
  });
}

/** What a primitive provides so that its waiters can leave on their own. */
export interface WaitHost<W extends Waiter<unknown>> {
  readonly waiters: WaiterList<W>;
  /** The error for a waiter whose timeout elapsed; called while it is still in line. */
  timeoutError(waiter: W): Error;
  /** Called after a waiter left by abort or timeout, so the host can serve those behind it. */
  onLeave(waiter: W): void;
  /** Names a parked waiter in diagnostics_channel messages; called only when someone subscribes. */
  describeWait?(waiter: W): WaitLabel;
}

/**
 * Puts `waiter` at the back of `host`'s line and returns the promise it settles. The wait ends
 * when the host settles the waiter ({@link settle}, {@link fail}), when `timeout` ms pass (rejects
 * with `host.timeoutError`), or when `signal` aborts (rejects with exactly `signal.reason`).
 * The caller has already checked that `signal` is not aborted.
 */
export function park<T, W extends Waiter<unknown> = Waiter<unknown>>(
  host: WaitHost<W>,
  waiter: W,
  signal: AbortSignal | undefined,
  timeout: number | undefined,
): Promise<T> {
  const promise = new Promise<T>((resolve, reject) => {
    waiter.resolve = resolve;
    waiter.reject = reject;
  });
  host.waiters.push(waiter);
  if (signal !== undefined) {
    waiter.signal = signal;
    waiter.hook = onAbort(signal, () => leave(host, waiter, signal.reason, 'aborted'));
  }
  if (timeout !== undefined) {
    waiter.timer = startTimer(() => leave(host, waiter, host.timeoutError(waiter), 'timeout'), timeout);
  }
  // Only a parked wait reads the clock (and, with origins on, the stack), and only while timing is
  // on: the read cost parked waits 10-15 % in the limiter benchmark. A reading cached per run of
  // JavaScript was tried; invalidating it (queueMicrotask) cost more than the read.
  waiter.since = flags.timing ? now() : UNTIMED;
  if (flags.origins) recordOrigin(waiter, park);
  if (watchingWaits()) publishStart(waiter, describe(host, waiter, timeout));
  return promise;
}

function describe<W extends Waiter<unknown>>(host: WaitHost<W>, waiter: W, timeout: number | undefined) {
  if (host.describeWait !== undefined) return host.describeWait(waiter);
  const name = (host as { name?: unknown }).name;
  return {
    kind: host.constructor.name,
    name: typeof name === 'string' ? name : undefined,
    what: 'wait',
    timeout,
  };
}

function leave<W extends Waiter<unknown>>(
  host: WaitHost<W>,
  waiter: W,
  reason: unknown,
  outcome: WaitOutcome,
): void {
  if (!host.waiters.remove(waiter)) return;
  unhook(waiter);
  ended(waiter, outcome, reason);
  waiter.reject(reason);
  host.onLeave(waiter);
}

/** The waiter's wait is over: tell diagnostics_channel subscribers and a stall watcher. */
function ended(waiter: Waiter<unknown>, outcome: WaitOutcome, reason: unknown): void {
  if (waiter.since === NOT_WAITING) return; // never parked (a task started at once), or already ended
  waiter.since = NOT_WAITING;
  publishEnd(waiter, outcome, reason); // a lookup in a WeakMap made only when someone subscribed
  if (enders.size > 0) notifyEnded(waiter, outcome);
}

/** How a wait that its host rejected with `reason` ended. */
function outcomeOf(waiter: Waiter<unknown>, reason: unknown): WaitOutcome {
  if (waiter.signal?.aborted && reason === waiter.signal.reason) return 'aborted';
  if (reason instanceof ClosedError) return 'closed';
  if (reason instanceof TimeoutError) return 'timeout';
  return 'failed';
}

/**
 * Removes a waiter's timer and abort listener, for a host that settles it by other means; its
 * wait counts as granted (e.g. a queued task that now starts).
 */
export function disarm(waiter: Waiter<unknown>): void {
  unhook(waiter);
  ended(waiter, 'granted', undefined);
}

function unhook(waiter: Waiter<unknown>): void {
  if (waiter.timer !== undefined) {
    clearTimer(waiter.timer);
    waiter.timer = undefined;
  }
  if (waiter.hook !== undefined) {
    offAbort(waiter.hook);
    waiter.hook = undefined;
  }
}

/** Resolves a waiter its host has already taken out of line. */
export function settle<T>(waiter: Waiter<T>, value: NoInfer<T>): void {
  disarm(waiter);
  waiter.resolve(value);
}

/** Rejects a waiter its host has already taken out of line. */
export function fail(waiter: Waiter<unknown>, reason: unknown): void {
  unhook(waiter);
  ended(waiter, outcomeOf(waiter, reason), reason);
  waiter.reject(reason);
}

/**
 * Returns the first waiter still worth serving, without removing it. A head whose signal is
 * already aborted is rejected with the reason and dropped: its abort is being dispatched right
 * now and a listener that ran before ours freed what it waits for. Serving it would hand a permit
 * to a caller who has gone (Go's semaphore puts such tokens back; we never hand them out).
 */
export function liveHead<W extends Waiter<unknown>>(
  waiters: WaiterList<W>,
  dropped?: (waiter: W) => void,
): W | undefined {
  let head = waiters.head;
  while (head?.signal?.aborted) {
    waiters.remove(head);
    fail(head, head.signal.reason);
    dropped?.(head);
    head = waiters.head;
  }
  return head;
}

/** Rejects every waiter in line with `reason` (for close and shutdown), oldest first. */
export function failAll(waiters: WaiterList<Waiter<unknown>>, reason: () => unknown): void {
  for (const waiter of waiters.drain()) fail(waiter, reason());
}

/**
 * Settles like `work`, unless `timeout` ms pass first (rejects with `timeoutError()`, or
 * `timeoutError.timeoutError()` when given an object) or `signal` aborts first (rejects with
 * `signal.reason`). `onExpire` runs with the reason before the rejection, e.g. to abort the
 * work. The timer and listener are removed on every path, and a late rejection of `work` is
 * consumed, never unhandled. A `call` given (already listed with `startCall`) is ended with the
 * outcome on every path.
 */
export function bound<T>(
  work: PromiseLike<T>,
  signal: AbortSignal | undefined,
  timeout: number | undefined,
  timeoutError: (() => Error) | { timeoutError(): Error },
  onExpire?: (reason: unknown) => void,
  call?: Call,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timer: Timer | undefined;
    let done = false;
    const finish = (outcome: WaitOutcome, reason?: unknown): boolean => {
      if (done) return false;
      done = true;
      if (timer !== undefined) clearTimer(timer);
      offAbort(hook);
      if (call !== undefined) endCall(call, outcome, reason);
      return true;
    };
    const expire = (reason: unknown, outcome: WaitOutcome): void => {
      if (!finish(outcome, reason)) return;
      onExpire?.(reason);
      reject(reason);
    };
    const hook = signal === undefined ? undefined : onAbort(signal, () => expire(signal.reason, 'aborted'));
    if (timeout !== undefined) {
      timer = startTimer(
        () =>
          expire(
            typeof timeoutError === 'function' ? timeoutError() : timeoutError.timeoutError(),
            'timeout',
          ),
        timeout,
      );
    }
    try {
      work.then(
        (value) => finish('granted') && resolve(value),
        (error: unknown) => finish('failed', error) && reject(error),
      );
    } catch (error) {
      // A thenable whose then() throws: the work failed.
      if (finish('failed', error)) reject(error);
    }
  });
}

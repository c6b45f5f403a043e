import { endCall, startCall } from './core/live.js';
import { ignore } from './core/never.js';
import { type Call, UNTIMED } from './core/track.js';
import * as check from './core/validate.js';
import { bound } from './core/wait.js';
import type { Link } from './core/waiters.js';
import { TimeoutError } from './errors.js';

/**
 * Options of {@link withTimeout}.
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { type WithTimeoutOptions, withTimeout } from 'unwedge';
 * const request = new AbortController(); // aborted when the client goes away
 * const options: WithTimeoutOptions = { name: 'db-connect', signal: request.signal };
 * console.log(await withTimeout((signal) => sleep(10, 'connected', { signal }), 2_000, options)); // → connected
 * ```
 */
export interface WithTimeoutOptions {
  /** Gives up when aborted, rejecting with exactly `signal.reason` (and aborting the work's signal). */
  signal?: AbortSignal;
  /** Names the operation in the `TimeoutError` message, e.g. `"db-connect"`. */
  name?: string;
}

const WITH_TIMEOUT_KEYS = ['signal', 'name'] as const;

/**
 * Work for {@link withTimeout}: a promise, or a function given a signal that aborts when time is up.
 * Prefer the function: a promise can only be raced, and runs on after a timeout.
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { type Work, withTimeout } from 'unwedge';
 * const stoppable: Work<string> = (signal) => sleep(10, 'a function', { signal });
 * const raced: Work<string> = sleep(10, 'a promise');
 * console.log(await withTimeout(stoppable, 1_000)); // → a function
 * console.log(await withTimeout(raced, 1_000)); // → a promise
 * ```
 */
export type Work<T> = PromiseLike<T> | ((signal: AbortSignal) => T | PromiseLike<T>);

/**
 * Settles like `work`, unless `ms` milliseconds pass first (rejects with a `TimeoutError`) or
 * `options.signal` aborts first (rejects with exactly its reason). When `work` is a function it is
 * called with an `AbortSignal` that is aborted on either of those, with the same reason, so the
 * work really stops (a `fetch`, a socket, a driver call) instead of running on unobserved.
 *
 * The timer is cleared as soon as `work` settles, so it never keeps the process alive; a rejection
 * of `work` after the timeout is consumed, never reported as unhandled. `ms` follows the library's
 * convention: `undefined`/`Infinity` is no limit and `0` rejects at once without calling `work`.
 *
 * @example
 * ```ts
 * import { once } from 'node:events';
 * import { connect, createServer, type Socket } from 'node:net';
 * import { withTimeout } from 'unwedge';
 * const database = createServer((s) => s.end()).listen(0, '127.0.0.1'); // stands in for one
 * await once(database, 'listening');
 * const { port } = database.address() as { port: number };
 * const socket = await withTimeout(
 *   (signal) =>
 *     new Promise<Socket>((resolve, reject) => {
 *       const s = connect({ host: '127.0.0.1', port, signal }, () => resolve(s));
 *       s.once('error', reject);
 *     }),
 *   2_000,
 *   { name: 'db-connect' }, // TimeoutError: "db-connect" timed out after 2000 ms
 * );
 * socket.destroy();
 * database.close();
 * ```
 */
export function withTimeout<T>(
  work: Work<T>,
  ms: number | undefined,
  options?: WithTimeoutOptions,
): Promise<T> {
  let timeout: number | undefined;
  let signal: AbortSignal | undefined;
  let name: string | undefined;
  try {
    check.funcOrPromise(work, 'work');
    timeout = check.timeout(ms, 'ms');
    const o = check.options<WithTimeoutOptions>(options, WITH_TIMEOUT_KEYS);
    signal = check.signal(o.signal, 'options.signal');
    name = check.string(o.name, 'options.name');
  } catch (error) {
    return Promise.reject(error);
  }
  if (typeof work !== 'function') {
    if (signal?.aborted || timeout === 0) {
      work.then(undefined, ignore); // it may still reject: never as an unhandled rejection
      return Promise.reject(signal?.aborted ? signal.reason : timeoutError(name, ms));
    }
    const call = new TimedCall(name, ms);
    startCall(call, withTimeout);
    return bound(work, signal, timeout, call, undefined, call);
  }

  if (signal?.aborted) return Promise.reject(signal.reason);
  if (timeout === 0) return Promise.reject(timeoutError(name, ms));
  const controller = new AbortController();
  const call = new TimedCall(name, ms);
  // Listed before `work` runs, so that a wait:start message comes before anything the work publishes.
  startCall(call, withTimeout);
  let result: T | PromiseLike<T>;
  try {
    result = work(controller.signal);
  } catch (error) {
    endCall(call, 'failed'); // it never waited
    return Promise.reject(error);
  }
  return bound(Promise.resolve(result), signal, timeout, call, (reason) => controller.abort(reason), call);
}

function timeoutError(name: string | undefined, ms: number | undefined): TimeoutError {
  return new TimeoutError(
    `${name === undefined ? 'operation' : JSON.stringify(name)} timed out after ${ms} ms`,
  );
}

/** One running `withTimeout` call, as `inspect()` lists it while it runs. */
class TimedCall implements Call {
  since = UNTIMED;
  declare weak?: WeakRef<Call>;
  prev: Link | undefined = undefined;
  next: Link | undefined = undefined;
  linked = false;

  constructor(
    readonly name: string | undefined,
    readonly ms: number | undefined,
  ) {}

  get kind(): string {
    return 'withTimeout';
  }

  /** The error for `bound`, as a method: a closure would put withTimeout's variables in a heap context (~150 ns a call). */
  timeoutError(): TimeoutError {
    return timeoutError(this.name, this.ms);
  }

  describeCall(quote: (name: string) => string = JSON.stringify) {
    const what = this.name === undefined ? 'operation' : quote(this.name);
    return { what, timeout: this.ms === Number.POSITIVE_INFINITY ? undefined : this.ms };
  }
}

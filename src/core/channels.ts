// The stall watcher's hooks and diagnostics_channel: the TracingChannels `unwedge:wait` (each parked
// wait) and `unwedge:run` (each task run: pool tasks, registry tasks, consumer handlers), the plain
// channels `unwedge:wait:start`, `unwedge:wait:end`, `unwedge:task:error` and `unwedge:refused`,
// with messages built only when someone subscribes: nothing here runs on a path nobody watches.
import { channel, tracingChannel } from 'node:diagnostics_channel';
import { isAbortOf } from './abort.js';
import { now, type Shared, shared, type WaitLabel, type WaitOutcome } from './track.js';

/** @internal The stall watchers running: each is told when any tracked wait ends. */
export const enders: Shared['enders'] = shared.enders;

/** Tells every stall watcher that the wait `key` ended; call only when `enders.size > 0`. */
export function notifyEnded(key: object, outcome: WaitOutcome): void {
  for (const ended of enders) ended(key, outcome);
}

/** Published when a wait parks: a {@link WaitStartMessage}. */
export const waitStart = channel('unwedge:wait:start');
/** Published when a parked wait ends: a {@link WaitEndMessage}. */
export const waitEnd = channel('unwedge:wait:end');
/** Published when a task fails and its failure is reported: a {@link TaskErrorMessage}. */
export const taskError = channel('unwedge:task:error');
/** Published when a `RedisSemaphore` permit's lease is lost: a {@link LeaseLostMessage}. */
export const leaseLost = channel('unwedge:lease:lost');
/** Published when a call is refused without waiting (a full queue, a closed primitive): a {@link RefusedMessage}. */
export const refused = channel('unwedge:refused');
/**
 * Each parked wait, as a TracingChannel: `start` and `end` when it parks (in its caller's async
 * context, so a span started there is a child of the caller's), then, when it ends, `error` (when
 * it did not end `granted`), `asyncStart` and `asyncEnd`. The message is a {@link WaitTrace}.
 */
export const waitTrace = tracingChannel<unknown, WaitTrace>('unwedge:wait');
/**
 * Each task run, as a TracingChannel: `start` as the task is called (in its caller's async context,
 * through `runStores`, so a store bound to it is the task's context), `end` when the call returns,
 * then, when what it returned has settled (also when it threw), `error` if it failed, `asyncStart`
 * and `asyncEnd`. The message is a {@link RunTrace}. An abandoned task's run ends when it really ends.
 */
export const runTrace = tracingChannel<unknown, RunTrace>('unwedge:run');

/**
 * The message of `unwedge:wait:start`.
 *
 * @example
 * ```ts
 * import { subscribe, unsubscribe } from 'node:diagnostics_channel';
 * import { BoundedQueue } from 'unwedge';
 * import { channels, type WaitStartMessage } from 'unwedge/inspect';
 * const onStart = (message: unknown) => {
 *   const { kind, name, what, timeout } = message as WaitStartMessage;
 *   if (name === 'start-demo') console.log(kind, what, timeout); // → queue get 20
 * };
 * subscribe(channels.waitStart, onStart);
 * const jobs = new BoundedQueue<string>({ capacity: 1, name: 'start-demo' });
 * await jobs.get({ timeout: 20 }).catch(() => {}); // empty: it waits, then times out
 * unsubscribe(channels.waitStart, onStart);
 * ```
 */
export interface WaitStartMessage {
  /** Unique in the process; the same in the wait's `unwedge:wait:end` message. */
  readonly id: number;
  /** `semaphore`, `queue`, `pool`, `withTimeout`, … */
  readonly kind: string;
  /** The primitive's name, if it has one. */
  readonly name: string | undefined;
  /** What it waits for: `acquire 1 permit`, `put`, `get`, `join`, a withTimeout call's name, … */
  readonly what: string;
  /** Its limit in ms, if any. */
  readonly timeout: number | undefined;
}

/**
 * The message of `unwedge:wait:end`.
 *
 * @example
 * ```ts
 * import { subscribe, unsubscribe } from 'node:diagnostics_channel';
 * import { Semaphore } from 'unwedge';
 * import { channels, type WaitEndMessage } from 'unwedge/inspect';
 * const onEnd = (message: unknown) => {
 *   const { name, what, outcome, duration } = message as WaitEndMessage;
 *   if (name === 'end-demo') console.log(what, outcome, duration >= 0); // → acquire 1 permit granted true
 * };
 * subscribe(channels.waitEnd, onEnd);
 * const sem = new Semaphore(1, { name: 'end-demo' });
 * const permit = await sem.acquire();
 * const next = sem.acquire(); // parks until the permit is released
 * permit.release();
 * (await next).release();
 * unsubscribe(channels.waitEnd, onEnd);
 * ```
 */
export interface WaitEndMessage extends WaitStartMessage {
  /** How it ended: `granted`, `timeout`, `aborted`, `closed` or `failed`. */
  readonly outcome: WaitOutcome;
  /** How long it waited, in ms. */
  readonly duration: number;
}

/**
 * The message of `unwedge:task:error`.
 *
 * @example
 * ```ts
 * import { subscribe, unsubscribe } from 'node:diagnostics_channel';
 * import { TaskRegistry } from 'unwedge';
 * import { channels, type TaskErrorMessage } from 'unwedge/inspect';
 * const onTaskError = (message: unknown) => {
 *   const { kind, name, task, error } = message as TaskErrorMessage;
 *   if (name === 'workers') console.log(kind, name, task, (error as Error).message); // → registry workers cache-warmer ECONNREFUSED
 * };
 * subscribe(channels.taskError, onTaskError);
 * const tasks = new TaskRegistry({ name: 'workers', onError: () => {} });
 * tasks.spawn('cache-warmer', async () => {
 *   throw new Error('ECONNREFUSED');
 * });
 * await tasks.shutdown();
 * unsubscribe(channels.taskError, onTaskError);
 * ```
 */
export interface TaskErrorMessage {
  /** `queue` (a consumer's handler), `pool`, `registry`, `redis` (a release Redis did not take). */
  readonly kind: string;
  /** The primitive's name, if it has one. */
  readonly name: string | undefined;
  /** The task's name or item, when it has one. */
  readonly task: unknown;
  /** What the task threw or rejected with. */
  readonly error: unknown;
}

/**
 * The message of each `unwedge:wait` TracingChannel event: the wait's {@link WaitStartMessage},
 * with `outcome`, `duration` and (unless granted) `error` set when it ends.
 *
 * @example
 * ```ts
 * import { tracingChannel } from 'node:diagnostics_channel';
 * import { Semaphore } from 'unwedge';
 * import type { WaitTrace } from 'unwedge/inspect';
 * const waits = tracingChannel<unknown, WaitTrace>('unwedge:wait');
 * const handlers = {
 *   start() {},
 *   end() {},
 *   asyncStart() {},
 *   asyncEnd(w: WaitTrace) {
 *     if (w.name === 'trace-demo') console.log(w.what, w.outcome, (w.error as Error).name); // → acquire 1 permit timeout TimeoutError
 *   },
 *   error() {},
 * };
 * waits.subscribe(handlers);
 * const sem = new Semaphore(1, { name: 'trace-demo' });
 * const permit = await sem.acquire(); // granted at once: no wait, no message
 * await sem.acquire({ timeout: 10 }).catch(() => {});
 * permit.release();
 * waits.unsubscribe(handlers);
 * ```
 */
export interface WaitTrace extends WaitStartMessage {
  /** How it ended; `undefined` until then. */
  outcome: WaitOutcome | undefined;
  /** How long it waited, in ms; `undefined` until it ended. */
  duration: number | undefined;
  /** What it was rejected with (a `TimeoutError`, the signal's reason, a `ClosedError`, …). */
  error: unknown;
}

/**
 * The message of each `unwedge:run` TracingChannel event: one run of a pool task, a registry task
 * or a consumer's handler.
 *
 * @example
 * ```ts
 * import { tracingChannel } from 'node:diagnostics_channel';
 * import { WorkerPool } from 'unwedge';
 * import type { RunTrace } from 'unwedge/inspect';
 * const runs = tracingChannel<unknown, RunTrace>('unwedge:run');
 * const handlers = {
 *   start() {},
 *   end() {},
 *   asyncStart() {},
 *   asyncEnd(r: RunTrace) {
 *     if (r.name === 'run-demo') console.log(r.kind, r.outcome, r.duration! >= 0); // → pool ok true
 *   },
 *   error() {},
 * };
 * runs.subscribe(handlers);
 * const pool = new WorkerPool({ concurrency: 2, name: 'run-demo' });
 * await pool.run(async () => 'done');
 * runs.unsubscribe(handlers);
 * ```
 */
export interface RunTrace {
  /** Unique in the process (shared with wait ids). */
  readonly id: number;
  /** `pool`, `registry` or `consumer`. */
  readonly kind: string;
  /** The primitive's name (a consumer's: its queue's), if it has one. */
  readonly name: string | undefined;
  /** The task's name (a registry task) or item (a consumer's), when there is one. */
  readonly task: unknown;
  /**
   * `'ok'`, `'failed'`, or `'aborted'` (it failed with its own signal's reason: it gave up when
   * told to); `undefined` until it settled.
   */
  outcome: 'ok' | 'failed' | 'aborted' | undefined;
  /** How long it ran, in ms; `undefined` until it settled. */
  duration: number | undefined;
  /** Whether its signal was aborted before it settled (a timeout, an abort, a shutdown). */
  abandoned: boolean;
  /** The reason its signal was aborted with, when `abandoned`: a `TimeoutError`, a `ClosedError`, the caller's reason. */
  reason: unknown;
  /** What it threw or rejected with, when it failed. */
  error: unknown;
}

/**
 * The message of `unwedge:refused`: a call refused at once, without waiting.
 *
 * @example
 * ```ts
 * import { subscribe, unsubscribe } from 'node:diagnostics_channel';
 * import { WorkerPool } from 'unwedge';
 * import { channels, type RefusedMessage } from 'unwedge/inspect';
 * const onRefused = (message: unknown) => {
 *   const { kind, name, what, error } = message as RefusedMessage;
 *   if (name === 'refused-demo') console.log(kind, what, (error as Error).name); // → pool run QueueFullError
 * };
 * subscribe(channels.refused, onRefused);
 * const pool = new WorkerPool({ concurrency: 1, maxQueue: 0, name: 'refused-demo' });
 * const first = pool.run(() => new Promise((resolve) => setTimeout(resolve, 10)));
 * await pool.run(async () => {}).catch(() => {}); // no slot, no room in line: refused
 * await first;
 * unsubscribe(channels.refused, onRefused);
 * ```
 */
export interface RefusedMessage {
  /** `pool`, `queue`, `semaphore`, … */
  readonly kind: string;
  /** The primitive's name, if it has one. */
  readonly name: string | undefined;
  /** The call refused: `run`, `put`, `acquire`, … */
  readonly what: string;
  /** What it was refused with: a `QueueFullError`, a `ClosedError`, a `DeadlockError`. */
  readonly error: unknown;
}

/**
 * The message of `unwedge:lease:lost`: a `RedisSemaphore` permit whose signal was just aborted
 * with a `LeaseLostError`.
 *
 * @example
 * ```ts
 * import { subscribe, unsubscribe } from 'node:diagnostics_channel';
 * import { Redis } from 'ioredis';
 * import { channels, type LeaseLostMessage } from 'unwedge/inspect';
 * import { RedisSemaphore } from 'unwedge/redis';
 * const onLost = (message: unknown) => {
 *   const { kind, name, error } = message as LeaseLostMessage;
 *   console.log(kind, name, (error as Error).name); // → redis-semaphore lost-demo LeaseLostError
 * };
 * subscribe(channels.leaseLost, onLost);
 * const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
 * const sem = new RedisSemaphore(redis, { key: 'example:lost-demo', permits: 1, name: 'lost-demo' });
 * const permit = await sem.acquire();
 * redis.disconnect(); // the client ends: its leases can no longer be kept
 * await new Promise((resolve) => permit.signal.addEventListener('abort', resolve));
 * unsubscribe(channels.leaseLost, onLost);
 * await sem.close();
 * ```
 */
export interface LeaseLostMessage {
  /** `redis-semaphore`. */
  readonly kind: string;
  /** The semaphore's name, or its key. */
  readonly name: string;
  /** The `LeaseLostError` the permit's signal was aborted with. */
  readonly error: unknown;
}

/** Publishes `unwedge:lease:lost` when someone listens. */
export function publishLeaseLost(name: string, error: unknown): void {
  if (leaseLost.hasSubscribers)
    leaseLost.publish({ kind: 'redis-semaphore', name, error } satisfies LeaseLostMessage);
}

/** Publishes `unwedge:refused` when someone listens, and returns `error` (to reject or throw). */
export function publishRefused<E>(kind: string, name: string | undefined, what: string, error: E): E {
  if (refused.hasSubscribers) refused.publish({ kind, name, what, error } satisfies RefusedMessage);
  return error;
}

// The message (and start time) of each wait published, to pair its end with; made at first use.
let published: WeakMap<object, { message: WaitTrace; at: number }> | undefined;

/** Whether anyone listens to the start or end of waits: then {@link publishStart} is due. */
export function watchingWaits(): boolean {
  return waitStart.hasSubscribers || waitEnd.hasSubscribers || waitTrace.hasSubscribers;
}

/**
 * Records the start of the wait `key` for its end messages, and publishes `unwedge:wait:start`
 * and the `start` and `end` of `unwedge:wait`; call only when {@link watchingWaits} (a subscriber
 * to `wait:end` alone gets its messages too).
 */
export function publishStart(key: object, label: WaitLabel): void {
  const message: WaitTrace = {
    id: ++shared.lastId,
    ...label,
    outcome: undefined,
    duration: undefined,
    error: undefined,
  };
  published ??= new WeakMap();
  published.set(key, { message, at: now() });
  if (waitStart.hasSubscribers) waitStart.publish(startMessage(message));
  if (waitTrace.hasSubscribers) {
    waitTrace.start.publish(message);
    waitTrace.end.publish(message);
  }
}

function startMessage({ id, kind, name, what, timeout }: WaitTrace): WaitStartMessage {
  return { id, kind, name, what, timeout };
}

/** Publishes the end of the wait `key`, if its start was published; `reason` is what it was rejected with. */
export function publishEnd(key: object, outcome: WaitOutcome, reason: unknown): void {
  const start = published?.get(key);
  if (start === undefined) return;
  published!.delete(key);
  const duration = now() - start.at;
  const message = start.message;
  if (waitEnd.hasSubscribers)
    waitEnd.publish({ ...startMessage(message), outcome, duration } satisfies WaitEndMessage);
  message.outcome = outcome;
  message.duration = duration;
  if (outcome !== 'granted') {
    message.error = reason;
    waitTrace.error.publish(message);
  }
  waitTrace.asyncStart.publish(message);
  waitTrace.asyncEnd.publish(message);
}

/**
 * Calls `call()` as the run of a task, publishing it on `unwedge:run`: `start` through
 * `runStores` (so a store an APM bound to it is set while the task is called), `end` when the
 * call returns, then the rest when what it returned settles. Call only when
 * `runTrace.hasSubscribers`; `signal` is the one the task was given. Returns what `call` returned
 * (or throws what it threw).
 */
export function traceRun<R>(
  kind: string,
  name: string | undefined,
  task: unknown,
  signal: AbortSignal | undefined,
  call: () => R,
): R {
  const message: RunTrace = {
    id: ++shared.lastId,
    kind,
    name,
    task,
    outcome: undefined,
    duration: undefined,
    abandoned: false,
    reason: undefined,
    error: undefined,
  };
  const at = now();
  let result: R;
  try {
    result = runTrace.start.runStores(message, call);
  } catch (error) {
    runTrace.end.publish(message);
    runEnded(message, at, signal, false, error);
    throw error;
  }
  runTrace.end.publish(message);
  Promise.resolve(result).then(
    () => runEnded(message, at, signal, true, undefined),
    (error: unknown) => runEnded(message, at, signal, false, error),
  );
  return result;
}

function runEnded(
  message: RunTrace,
  at: number,
  signal: AbortSignal | undefined,
  ok: boolean,
  error: unknown,
) {
  message.duration = now() - at;
  if (signal?.aborted === true) {
    message.abandoned = true;
    message.reason = signal.reason;
  }
  if (ok) {
    message.outcome = 'ok';
  } else {
    message.outcome = message.abandoned && isAbortOf(error, signal!.reason) ? 'aborted' : 'failed';
    message.error = error;
    runTrace.error.publish(message);
  }
  runTrace.asyncStart.publish(message);
  runTrace.asyncEnd.publish(message);
}

/** Publishes `unwedge:task:error` when someone listens. */
export function publishTaskError(
  kind: string,
  name: string | undefined,
  task: unknown,
  error: unknown,
): void {
  if (taskError.hasSubscribers) taskError.publish({ kind, name, task, error } satisfies TaskErrorMessage);
}

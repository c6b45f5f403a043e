// The stall watcher's hooks and diagnostics_channel: `unwedge:wait:start`, `unwedge:wait:end` and
// `unwedge:task:error`, with messages built only when someone subscribes.
import { channel } from 'node:diagnostics_channel';
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

// The start message (and time) of each wait published, to pair its end with; made at first use.
let published: WeakMap<object, { message: WaitStartMessage; at: number }> | undefined;

/**
 * Records the start of the wait `key` for its `unwedge:wait:end` message, and publishes
 * `unwedge:wait:start`; call only when either channel has subscribers (a subscriber to
 * `wait:end` alone gets its messages too).
 */
export function publishStart(key: object, label: WaitLabel): void {
  const message: WaitStartMessage = { id: ++shared.lastId, ...label };
  published ??= new WeakMap();
  published.set(key, { message, at: now() });
  if (waitStart.hasSubscribers) waitStart.publish(message);
}

/** Publishes `unwedge:wait:end` for `key` if its start was published. */
export function publishEnd(key: object, outcome: WaitOutcome): void {
  const start = published?.get(key);
  if (start === undefined) return;
  published!.delete(key);
  waitEnd.publish({ ...start.message, outcome, duration: now() - start.at } satisfies WaitEndMessage);
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

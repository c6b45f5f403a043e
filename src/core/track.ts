// What every primitive tells the inspector, and the switches that decide what a wait records.
// The rest of it: origins.ts (where a wait started), live.ts (what can be listed), channels.ts
// (diagnostics_channel and the stall watcher's hooks).
// Long-lived primitives are held through a WeakRef, so that the inspector never keeps one alive;
// per-call work (a fanOut call, a withTimeout call) is linked into a list only while it runs. Nothing here
// runs on a primitive's fast path: a parked wait (already slow) reads the clock, and the stack of
// its caller only when origins are on; diagnostics_channel messages are built only for subscribers.
// A waiter carries one field for all this (`since`): origins live in a WeakMap, since a pool's
// queued task is a waiter and its heap size is the pool's cost per queued task.
import type { Omitted, Sample } from './sample.js';
import { type Link, WaiterList } from './waiters.js';

/**
 * How a wait ended: served, its timeout, its signal, its primitive closed, or another error.
 *
 * @example
 * ```ts
 * import { subscribe, unsubscribe } from 'node:diagnostics_channel';
 * import { Semaphore } from 'unwedge';
 * import { channels, type WaitEndMessage, type WaitOutcome } from 'unwedge/inspect';
 * const outcomes: WaitOutcome[] = [];
 * const onEnd = (message: unknown) => {
 *   const { name, outcome } = message as WaitEndMessage;
 *   if (name === 'outcome-demo') outcomes.push(outcome);
 * };
 * subscribe(channels.waitEnd, onEnd);
 * const sem = new Semaphore(1, { name: 'outcome-demo' });
 * const permit = await sem.acquire();
 * const cancel = new AbortController();
 * const aborted = sem.acquire({ signal: cancel.signal }).catch(() => {});
 * await sem.acquire({ timeout: 10 }).catch(() => {});
 * cancel.abort();
 * await aborted;
 * permit.release();
 * unsubscribe(channels.waitEnd, onEnd);
 * console.log(outcomes); // → [ 'timeout', 'aborted' ]
 * ```
 */
export type WaitOutcome = 'granted' | 'timeout' | 'aborted' | 'closed' | 'failed';

/** The stack of the call that started a wait, captured with `Error.captureStackTrace`. */
export interface Origin {
  /** Formatted by V8 on first read, so capturing costs little until someone looks. */
  readonly stack?: string;
}

/** Anything that waits and can be listed with its age: a parked waiter, a running call. */
export interface Tracked {
  /**
   * `performance.now()` when it started waiting; {@link UNTIMED} when it waits but timing was off
   * when it started; {@link NOT_WAITING} once its wait ended (or before it began).
   */
  since: number;
}

/** `since` of something not waiting (yet, or any more). */
export const NOT_WAITING = -1;
/** `since` of a wait that started while timing was off: its age counts from first sight. */
export const UNTIMED = -2;

/** One wait or running task in a primitive's snapshot. */
export interface WaitSnapshot {
  /** Its identity across snapshots (the waiter or task object), so a stall is reported once. */
  readonly key: object;
  /** What it waits for, e.g. `acquire 2 permits`, `put`, `"db-connect"`. */
  readonly what: string;
  /** `performance.now()` when it started; `-1` when unknown (its age is then counted from first sight). */
  readonly since: number;
  /** Its limit in ms, if any. */
  readonly timeout?: number | undefined;
  /** `'waiting'` (default) for a parked caller; e.g. `'running'` or `'abandoned'` for a task. */
  readonly state?: string;
}

/** What a primitive looks like now: its kind, name, limits and use, and who waits on it. */
export interface PrimitiveSnapshot {
  readonly kind: string;
  readonly name: string | undefined;
  /** One human line of limits and use, e.g. `32 permits, 32 in use, 17 waiting`. */
  readonly summary: string;
  /** The same figures for machines. */
  readonly stats: Readonly<Record<string, number | string | boolean | undefined>>;
  /** The oldest waits, at most the snapshot's limit. */
  readonly waits: readonly WaitSnapshot[];
  /** The waits beyond that limit, counted by age; `undefined` when there are none. */
  readonly omitted: Omitted | undefined;
}

/**
 * What a primitive's `describe` returns: its snapshot but the waits, which it hands to the
 * {@link Sample} it is given (`sample.take(list, …)` for each list of waits, oldest first).
 */
export type Described = Omit<PrimitiveSnapshot, 'waits' | 'omitted'>;

/** How a wait names itself in diagnostics_channel messages; hosts give it via `describeWait`. */
export interface WaitLabel {
  readonly kind: string;
  readonly name: string | undefined;
  readonly what: string;
  readonly timeout: number | undefined;
}

/**
 * A running per-call operation (a fanOut or withTimeout call), listed while it runs. It carries
 * its own links: listing and unlisting it are a few pointer writes (a Set add/delete cost ~60 ns
 * here, 5 % of a withTimeout call).
 */
export interface Call extends Tracked, Link {
  /** Groups calls into one block of the dump, e.g. `withTimeout`. */
  readonly kind: string;
  /** Set by `startCall(…, weakly)`: the call is listed through this, not held. */
  weak?: WeakRef<Call> | undefined;
  /** What it waits for now; names it shows go through `quote` (a dump's redaction; default JSON.stringify). */
  describeCall(quote?: (name: string) => string): Omit<WaitSnapshot, 'key' | 'since'>;
}

// ---------------------------------------------------------------------------------------------
// Switches

/** The switches, read on slow paths and per call. */
export interface Flags {
  /** Capture the caller's stack for each wait (configure({ captureOrigins }) or UNWEDGE_ORIGINS=1). */
  origins: boolean;
  /** Record when waits start (configure({ recordAges })). */
  ages: boolean;
  /**
   * Record when each wait starts: on with `origins` or `ages`, or while `users` > 0. Off, a parked
   * wait skips the clock read, which is most of what inspection costs a parked wait.
   */
  timing: boolean;
  /** Stall watchers, signal dumps and inspect handlers installed; timing stays on while any is. */
  users: number;
}

/** @internal */
export interface Entry {
  /** `undefined` once unregistered. */
  ref: WeakRef<object> | undefined;
  readonly describe: (primitive: never, sample: Sample) => Described;
}

// One inspector per process, even when unwedge is loaded more than once (its ESM and CJS builds,
// or the main entry and `unwedge/inspect` bundled apart): every copy shares this state.
/** @internal */
export interface Shared {
  readonly flags: Flags;
  /** The stall watchers running (in any copy), told when a tracked wait ends. */
  readonly enders: Set<(key: object, outcome: WaitOutcome) => void>;
  /** Registered primitives, oldest first; entries of collected ones are swept out now and then. */
  readonly live: Entry[];
  /** Sweep `live` when it reaches this length. */
  sweepAt: number;
  readonly calls: WaiterList<Call>;
  readonly weakCalls: Set<WeakRef<Call>>;
  /** The directories of every loaded copy of unwedge, whose frames origins leave out. */
  readonly roots: Set<string>;
  /** When a wait whose start was not recorded was first seen by a snapshot, and in which state. */
  readonly firstSeen: WeakMap<object, Sighting>;
  /** The origin of each wait started while origins were on, by the wait's key. */
  readonly origins: WeakMap<object, Origin>;
  lastId: number;
}

const SHARED = Symbol.for('unwedge.inspect.v1');
const holder = globalThis as { [SHARED]?: Shared };
holder[SHARED] ??= {
  flags: {
    origins: process.env.UNWEDGE_ORIGINS === '1',
    ages: false,
    timing: process.env.UNWEDGE_ORIGINS === '1',
    users: 0,
  },
  enders: new Set(),
  live: [],
  sweepAt: 1_024,
  calls: new WaiterList<Call>(),
  weakCalls: new Set(),
  roots: new Set(),
  firstSeen: new WeakMap(),
  origins: new WeakMap(),
  lastId: 0,
};
/** @internal The inspector's state, shared by every loaded copy of unwedge. */
export const shared: Shared = holder[SHARED];

/** Read on slow paths and per call: whether to record start times and origins. */
export const flags: Flags = shared.flags;

/** A wait whose start was not recorded, as a snapshot first saw it: its age is at least since `at`. */
export interface Sighting {
  readonly at: number;
  /** Its state then: a pool job is one key while queued and then running. */
  readonly state: string;
}

/** When (and in which state) a wait whose start was not recorded was first seen by a snapshot. */
export const firstSeen: WeakMap<object, Sighting> = shared.firstSeen;

/** Recomputes `flags.timing` after `origins`, `ages` or `users` changed. */
export function retime(): void {
  flags.timing = flags.origins || flags.ages || flags.users > 0;
}

/** Something that reads ages (a stall watcher, a signal dump, an inspect handler) starts using them. */
export function useTiming(): void {
  flags.users++;
  retime();
}

/** The counterpart of {@link useTiming}. */
export function unuseTiming(): void {
  flags.users--;
  retime();
}

/** The clock every age is measured on: monotonic, in ms. */
export function now(): number {
  return performance.now();
}

/** `since` for something stamped with `Date.now()` (e.g. a task's `startedAt`). */
export function sinceDate(dateMs: number): number {
  return now() - (Date.now() - dateMs);
}

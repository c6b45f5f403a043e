// What every primitive tells the inspector, and the switches that decide what a wait records.
// Long-lived primitives are held through a WeakRef, so that the inspector never keeps one alive;
// per-call work (a fanOut call, a withTimeout call) is linked into a list only while it runs. Nothing here
// runs on a primitive's fast path: a parked wait (already slow) reads the clock, and the stack of
// its caller only when origins are on; diagnostics_channel messages are built only for subscribers.
// A waiter carries one field for all this (`since`): origins live in a WeakMap, since a pool's
// queued task is a waiter and its heap size is the pool's cost per queued task.
import { channel } from 'node:diagnostics_channel';
import { dirname, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type Link, WaiterList } from './waiters.js';

/** How a wait ended: served, its timeout, its signal, its primitive closed, or another error. */
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
  readonly waits: readonly WaitSnapshot[];
}

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
  /** What it waits for now. */
  describeCall(): Omit<WaitSnapshot, 'key' | 'since'>;
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

interface Entry {
  /** `undefined` once unregistered. */
  ref: WeakRef<object> | undefined;
  readonly describe: (primitive: never) => PrimitiveSnapshot;
}

// One inspector per process, even when unwedge is loaded more than once (its ESM and CJS builds,
// or the main entry and `unwedge/inspect` bundled apart): every copy shares this state.
interface Shared {
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
const shared: Shared = holder[SHARED];

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

// ---------------------------------------------------------------------------------------------
// Origins

/**
 * Records the stack of the current call (above the frame of `above`) as the origin of the wait
 * `key`, when origins are on.
 */
export function recordOrigin(key: object, above?: Function): void {
  if (flags.origins) shared.origins.set(key, captureOrigin(above));
}

/** The origin recorded for the wait `key`, if any. */
export function originOf(key: object): Origin | undefined {
  return shared.origins.get(key);
}

function captureOrigin(above?: Function): Origin {
  const holder: { stack?: string } = {};
  const limit = Error.stackTraceLimit;
  // unwedge's own frames and Node's are trimmed later: leave room for the user's behind them
  // (each frame costs: ~2.9 µs a capture with 20, ~4.4 µs with 40, on the bench machine).
  Error.stackTraceLimit = 20;
  Error.captureStackTrace(holder, above);
  Error.stackTraceLimit = limit;
  return holder;
}

/**
 * unwedge's own directory, in both the forms a stack frame names files in, from a frame of one of
 * its modules: the directory above core/ when run from source (src/), or the directory of the
 * bundle (dist/). Read from a stack frame, which works in ESM and CJS alike.
 */
export function libraryRoots(frame: string): string[] {
  const match = /\(?((?:file:\/\/)?[^()\s]+?):\d+:\d+\)?$/.exec(frame.trim());
  if (match === null) return [];
  let file = match[1]!;
  if (file.startsWith('file://')) file = fileURLToPath(file);
  let dir = dirname(file);
  if (/[\\/]core$/.test(dir)) dir = dirname(dir);
  const withSlash = `${dir}${sep}`;
  return [withSlash, pathToFileURL(withSlash).href];
}

for (const root of libraryRoots(new Error().stack?.split('\n')[1] ?? '')) shared.roots.add(root);

/**
 * The user's frames of an origin: its `at …` lines without Node's internals and unwedge's own
 * files. If that leaves nothing (unwedge bundled into the app's own file), every frame but Node's.
 */
export function originFrames(origin: Origin | undefined): string[] {
  const stack = origin?.stack;
  if (stack === undefined) return [];
  const frames: string[] = [];
  const all: string[] = [];
  for (const raw of stack.split('\n')) {
    const line = raw.trim();
    if (!line.startsWith('at ')) continue;
    // Node's own frames, and those with no file (`at new Promise (<anonymous>)`).
    if (line.includes('node:internal') || line.includes('(node:') || line.endsWith('(<anonymous>)')) continue;
    all.push(line);
    let own = false;
    for (const root of shared.roots) if (line.includes(root)) own = true;
    if (!own) frames.push(line);
  }
  return frames.length > 0 ? frames : all;
}

// ---------------------------------------------------------------------------------------------
// The live set

const live = shared.live;
const calls = shared.calls;
// Calls that may be dropped unfinished (an async iterator its consumer let go of without return()).
const weakCalls = shared.weakCalls;
const droppedCalls = new FinalizationRegistry<WeakRef<Call>>((ref) => weakCalls.delete(ref));

/**
 * Makes a long-lived primitive known to the inspector without keeping it alive. `describe` must
 * not close over `primitive` (pass a static function): it is called with it at each snapshot.
 * Returns a token for {@link unregister}.
 */
export function register<P extends object>(
  primitive: P,
  describe: (primitive: P) => PrimitiveSnapshot,
): object {
  const entry: Entry = { ref: new WeakRef(primitive), describe };
  // No FinalizationRegistry: registering there cost ~0.4 µs a primitive, four times the WeakRef.
  // Entries of collected primitives are swept instead once the list doubles: O(1) amortized,
  // and the list stays within twice the primitives alive at the last sweep (and at least 1,024).
  if (live.push(entry) >= shared.sweepAt) sweep();
  return entry;
}

/** Forgets a primitive registered with {@link register} before it is collected. */
export function unregister(token: object): void {
  (token as Entry).ref = undefined;
}

/** Drops the entries of collected or unregistered primitives, keeping the order. */
function sweep(): void {
  let kept = 0;
  for (const entry of live) if (entry.ref?.deref() !== undefined) live[kept++] = entry;
  live.length = kept;
  shared.sweepAt = Math.max(1_024, kept * 2);
}

/**
 * Lists a running call until {@link endCall}; `weakly`, without keeping it alive. Stamps its start
 * (and origin, above the frame of `above`) when timing is on.
 */
export function startCall(call: Call, above?: Function, weakly = false): void {
  if (flags.timing) {
    call.since = now();
    recordOrigin(call, above);
  }
  if (weakly) {
    call.weak = new WeakRef(call);
    weakCalls.add(call.weak);
    droppedCalls.register(call, call.weak, call.weak);
  } else {
    calls.push(call);
  }
  if (waitStart.hasSubscribers || waitEnd.hasSubscribers) {
    const { what, timeout } = call.describeCall();
    publishStart(call, { kind: call.kind, name: undefined, what, timeout });
  }
}

/** The call settled: drop it from the list, and tell subscribers and a stall watcher. */
export function endCall(call: Call, outcome: WaitOutcome): void {
  if (call.weak === undefined) {
    calls.remove(call);
  } else {
    weakCalls.delete(call.weak);
    droppedCalls.unregister(call.weak);
  }
  if (waitEnd.hasSubscribers) publishEnd(call, outcome);
  if (enders.size > 0) notifyEnded(call, outcome);
}

/** Snapshots of every live primitive, and the running calls grouped by kind. */
export function snapshots(): PrimitiveSnapshot[] {
  const out: PrimitiveSnapshot[] = [];
  for (const entry of live) {
    const primitive = entry.ref?.deref();
    if (primitive !== undefined) out.push((entry.describe as (p: object) => PrimitiveSnapshot)(primitive));
  }
  sweep();
  const kinds = new Map<string, WaitSnapshot[]>();
  const add = (call: Call) => {
    let waits = kinds.get(call.kind);
    if (waits === undefined) {
      waits = [];
      kinds.set(call.kind, waits);
    }
    waits.push({ ...call.describeCall(), key: call, since: call.since });
  };
  for (const call of calls) add(call);
  for (const ref of weakCalls) {
    const call = ref.deref();
    if (call === undefined) weakCalls.delete(ref);
    else add(call);
  }
  for (const [kind, waits] of kinds) {
    const summary = `${waits.length} call${waits.length === 1 ? '' : 's'} running`;
    out.push({ kind, name: undefined, summary, stats: { running: waits.length }, waits });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Hooks for the stall watcher, and diagnostics_channel

/** The stall watchers running: each is told when any tracked wait ends. */
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

/** The message of `unwedge:wait:start`. */
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

/** The message of `unwedge:wait:end`. */
export interface WaitEndMessage extends WaitStartMessage {
  /** How it ended: `granted`, `timeout`, `aborted`, `closed` or `failed`. */
  readonly outcome: WaitOutcome;
  /** How long it waited, in ms. */
  readonly duration: number;
}

/** The message of `unwedge:task:error`. */
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

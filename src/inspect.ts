// See every stuck wait. A Node process has no py-spy for promises: an `await` that never resumes
// leaves no stack behind. But every wait in unwedge goes through one mechanism that knows what is
// parked, on what, since when and (with origins on) from where, so it can be dumped on demand,
// watched for stalls, and published on diagnostics_channel. A blocked event loop is watched from
// a worker thread, the only place that can still speak while the main thread is stuck.

import { enders } from './core/channels.js';
import { disposeSymbol } from './core/compat.js';
import { snapshots } from './core/live.js';
import { originFrames, originOf } from './core/origins.js';
import {
  firstSeen,
  flags,
  now,
  retime,
  unuseTiming,
  useTiming,
  type WaitOutcome,
  type WaitSnapshot,
} from './core/track.js';
import * as check from './core/validate.js';

export type { TaskErrorMessage, WaitEndMessage, WaitStartMessage } from './core/channels.js';
export type { WaitOutcome } from './core/track.js';

/**
 * The diagnostics_channel names unwedge publishes on. Messages are built only while someone
 * subscribes; each wait publishes `waitStart` then `waitEnd` with the same `id`.
 *
 * @example
 * ```ts
 * import { subscribe } from 'node:diagnostics_channel';
 * import { channels, type WaitEndMessage } from 'unwedge/inspect';
 * subscribe(channels.waitEnd, (message) => {
 *   const { kind, name, outcome, duration } = message as WaitEndMessage;
 *   if (duration > 1_000) console.warn(`${kind} ${name ?? ''} waited ${Math.round(duration)} ms: ${outcome}`);
 * });
 * ```
 */
export const channels = {
  /** A wait parked (or a `withTimeout` / `fanOut` call started): a `WaitStartMessage`. */
  waitStart: 'unwedge:wait:start',
  /** That wait ended: a `WaitEndMessage` with its `outcome` and `duration`. */
  waitEnd: 'unwedge:wait:end',
  /** A task failed and was reported (a queue consumer's handler, a pool or registry task): a `TaskErrorMessage`. */
  taskError: 'unwedge:task:error',
} as const;

/** A snapshot of every live primitive and what waits on it, from {@link inspect}. */
export interface InspectReport {
  /** The process the snapshot was taken in. */
  readonly pid: number;
  /** When the snapshot was taken, ISO 8601. */
  readonly takenAt: string;
  /** How many waits (and running tasks) are listed in all. */
  readonly waits: number;
  /** Primitives with waits first (the oldest wait first), then idle ones. */
  readonly primitives: readonly PrimitiveReport[];
}

/** One primitive, or one kind of per-call work (`withTimeout`, `fanOut`), in an {@link InspectReport}. */
export interface PrimitiveReport {
  /** `semaphore`, `queue`, `pool`, `registry`, `withTimeout`, `fanOut`. */
  readonly kind: string;
  /** The primitive's `name` option; `undefined` when it has none, and for per-call work. */
  readonly name: string | undefined;
  /** Limits and use in one line, e.g. `32 permits, 32 in use, 17 waiting`. */
  readonly summary: string;
  /** The same figures as fields, e.g. `{ permits: 32, inUse: 32, waiting: 17 }`. */
  readonly stats: Readonly<Record<string, number | string | boolean | undefined>>;
  /** Oldest first. */
  readonly waits: readonly WaitReport[];
}

/** One parked caller or running task in a {@link PrimitiveReport}. */
export interface WaitReport {
  /** What it waits for: `acquire 1 permit`, `put`, `get`, `join`, `"db-connect"`, … */
  readonly what: string;
  /** `waiting` for a parked caller; `running`, `abandoned`, … for a task. */
  readonly state: string;
  /** How long it has waited, in ms. */
  readonly age: number;
  /**
   * `true` when its start was not recorded (timing was off when it started: see
   * {@link InspectConfig.recordAges}): `age` counts from when a snapshot first saw it, so it is a
   * lower bound.
   */
  readonly ageIsLowerBound: boolean;
  /** Its limit in ms, if it has one. */
  readonly timeout: number | undefined;
  /** Where it was started: `at fn (file:line:col)` frames of your code, innermost first. Empty with origins off. */
  readonly origin: readonly string[];
}

/** Options of {@link configure}. */
export interface InspectConfig {
  /**
   * Record the stack of the call that started each wait (`Error.captureStackTrace`, trimmed to
   * your frames), shown as its origin. Costs a few µs per parked wait and per `withTimeout` /
   * `fanOut` call; off by default, or on when the process starts with `UNWEDGE_ORIGINS=1`.
   */
  captureOrigins?: boolean;
  /**
   * Record when each wait starts, so that {@link inspect} gives its exact age. Costs one clock
   * read per parked wait (10-15 % of a parked `Semaphore.run` in the limiter benchmark; nothing on
   * the paths that do not wait). Off by default, but on anyway while origins are, and while a
   * {@link watchStalls} watcher, a `dumpOnSignal` or a `createInspectHandler` (from
   * `unwedge/inspect/http`) is installed: install one at start-up and every later wait has its
   * age. With it off, a wait's age counts from the first snapshot that saw it
   * (`ageIsLowerBound`).
   */
  recordAges?: boolean;
}

const CONFIG_KEYS = ['captureOrigins', 'recordAges'] as const;

/**
 * Changes what waits record from now on (waits already parked keep what they have), and returns
 * the configuration in effect before, to restore it later.
 *
 * @example
 * ```ts
 * import { configure, formatInspect } from 'unwedge/inspect';
 * const previous = configure({ captureOrigins: true }); // for an investigation
 * // ... reproduce the hang, then:
 * process.stderr.write(formatInspect());
 * configure(previous);
 * ```
 */
export function configure(options: InspectConfig): Required<InspectConfig> {
  const o = check.options<InspectConfig>(options, CONFIG_KEYS);
  const origins = check.boolean(o.captureOrigins, 'options.captureOrigins');
  const ages = check.boolean(o.recordAges, 'options.recordAges');
  const previous = { captureOrigins: flags.origins, recordAges: flags.ages };
  if (origins !== undefined) flags.origins = origins;
  if (ages !== undefined) flags.ages = ages;
  retime();
  return previous;
}

/**
 * Takes a snapshot of every live Semaphore, BoundedQueue (and every other primitive that
 * registers), and of the running `withTimeout` and `fanOut` calls: for each its limits and use,
 * and for each parked caller what it waits for, for how long, and where it was started. Never
 * waits and changes nothing; primitives are held weakly, so one that was garbage-collected is gone.
 *
 * @example
 * ```ts
 * import { inspect } from 'unwedge/inspect';
 * for (const p of inspect().primitives) {
 *   for (const w of p.waits) if (w.age > 5_000) console.warn(`${p.kind} ${p.name}: ${w.what} for ${w.age} ms`);
 * }
 * ```
 */
export function inspect(): InspectReport {
  const t = now();
  const primitives: Array<PrimitiveReport & { oldest: number }> = [];
  let count = 0;
  for (const snapshot of snapshots()) {
    const waits = snapshot.waits.map((w) => waitReport(w, t)).sort((a, b) => b.age - a.age);
    count += waits.length;
    const { kind, name, summary, stats } = snapshot;
    primitives.push({ kind, name, summary, stats, waits, oldest: waits[0]?.age ?? -1 });
  }
  primitives.sort((a, b) => b.oldest - a.oldest);
  return {
    pid: process.pid,
    takenAt: new Date().toISOString(),
    waits: count,
    primitives: primitives.map(({ oldest: _, ...p }) => p),
  };
}

/** When `w` started, on the `now()` clock; from first sight when its start was not recorded. */
function startOf(w: WaitSnapshot, t: number): { start: number; lowerBound: boolean } {
  if (w.since >= 0) return { start: w.since, lowerBound: false };
  const state = w.state ?? 'waiting';
  let seen = firstSeen.get(w.key);
  // A pool job is one key while queued and then running: its running age starts at the first
  // sight of it running, not of it queued.
  if (seen === undefined || seen.state !== state) {
    seen = { at: t, state };
    firstSeen.set(w.key, seen);
  }
  return { start: seen.at, lowerBound: true };
}

function waitReport(w: WaitSnapshot, t: number): WaitReport {
  const { start, lowerBound } = startOf(w, t);
  return {
    what: w.what,
    state: w.state ?? 'waiting',
    age: Math.max(0, Math.round(t - start)),
    ageIsLowerBound: lowerBound,
    timeout: w.timeout,
    origin: originFrames(originOf(w.key)),
  };
}

/** `semaphore "storage-chunks"`, or `semaphore` when it has no name. */
function label(p: { kind: string; name: string | undefined }): string {
  return p.name === undefined ? p.kind : `${p.kind} ${JSON.stringify(p.name)}`;
}

function describeWait(w: Pick<WaitReport, 'what' | 'state' | 'timeout'>): string {
  const state = w.state === 'waiting' ? '' : `[${w.state}] `;
  const limit = w.timeout === undefined ? 'no timeout' : `timeout ${w.timeout} ms`;
  return `${state}${w.what} (${limit})`;
}

/** Wait lines per primitive in the text dump: the oldest; a line then counts the rest. */
const MAX_LINES = 100;

/**
 * Renders a report as text, py-spy style: one block per primitive with its limits and use, one
 * line per waiter (oldest first, at most 100 per primitive) with its age, and its origin frames indented below; idle
 * primitives are listed at the end, one line each. Takes a fresh {@link inspect}() by default.
 *
 * @example
 * ```ts
 * import { formatInspect } from 'unwedge/inspect';
 * process.on('SIGUSR2', () => process.stderr.write(formatInspect()));
 * ```
 */
export function formatInspect(report: InspectReport = inspect()): string {
  const busy = report.primitives.filter((p) => p.waits.length > 0);
  const idle = report.primitives.filter((p) => p.waits.length === 0);
  const lines = [
    `unwedge: ${report.waits} wait${report.waits === 1 ? '' : 's'} in ${busy.length} of ` +
      `${report.primitives.length} primitive${report.primitives.length === 1 ? '' : 's'} ` +
      `(pid ${report.pid}, ${report.takenAt})`,
  ];
  for (const p of busy) {
    lines.push('', `${label(p)}: ${p.summary}`);
    const shown = p.waits.length > MAX_LINES ? p.waits.slice(0, MAX_LINES) : p.waits;
    let width = 0;
    for (const w of shown) width = Math.max(width, ageText(w).length);
    for (const w of shown) {
      lines.push(`  ${ageText(w).padStart(width)}  ${describeWait(w)}`);
      for (const frame of w.origin) lines.push(`        ${frame}`);
    }
    if (shown !== p.waits)
      lines.push(`  … and ${p.waits.length - shown.length} more (all of them in the JSON report)`);
  }
  if (idle.length > 0) {
    lines.push('', 'idle:');
    for (const p of idle) lines.push(`  ${label(p)}: ${p.summary}`);
  }
  return `${lines.join('\n')}\n`;
}

function ageText(w: Pick<WaitReport, 'age' | 'ageIsLowerBound'>): string {
  return `${w.ageIsLowerBound ? '>=' : ''}${w.age} ms`;
}

// ---------------------------------------------------------------------------------------------
// Stall watcher

/** A wait that {@link watchStalls} reports: once when it passes the threshold, once when it ends. */
export interface Stall {
  /** `'stalled'`: it has waited longer than the threshold. `'ended'`: a stalled wait ended. */
  readonly phase: 'stalled' | 'ended';
  /** The kind of primitive it waits on, as in {@link PrimitiveReport}. */
  readonly kind: string;
  /** That primitive's name, if it has one. */
  readonly name: string | undefined;
  /** What it waits for, as in {@link WaitReport}. */
  readonly what: string;
  /** `waiting`, or a task's state (`running`, …), as in {@link WaitReport}. */
  readonly state: string;
  /** `'stalled'`: its age when noticed. `'ended'`: how long it took in all. In ms. */
  readonly age: number;
  /** As in {@link WaitReport}: its start was not recorded, so `age` is a lower bound. */
  readonly ageIsLowerBound: boolean;
  /** Its limit in ms, if it has one. */
  readonly timeout: number | undefined;
  /**
   * `'ended'` only: how it ended. `undefined` when the end was noticed by its absence from a later
   * snapshot (a task of a pool or registry that finished; its primitive collected), up to one interval late.
   */
  readonly outcome: WaitOutcome | undefined;
  /** Where it was started, as in {@link WaitReport} (empty with origins off). */
  readonly origin: readonly string[];
}

/** Options of {@link watchStalls}. */
export interface WatchStallsOptions {
  /** Report waits older than this many ms (> 0). */
  threshold: number;
  /** How often to look, in ms (> 0). Default: half the threshold, at most 1,000. */
  interval?: number;
  /** Receives each report. Default: a line on stderr (with the origin frames below it). */
  onStall?: (stall: Stall) => void;
  /**
   * Decides which stalls are reported (called once per wait, and again if its state changes);
   * `false` leaves it out, and then its end too. For waits that are long by design, e.g. an idle
   * consumer's `get`: `filter: (s) => !(s.kind === 'queue' && s.what === 'get')`. Default: all.
   */
  filter?: (stall: Stall) => boolean;
}

const WATCH_STALLS_KEYS = ['threshold', 'interval', 'onStall', 'filter'] as const;

/** A running watcher: {@link watchStalls} or {@link watchEventLoop}. */
export interface Watcher {
  /** Stops watching and releases its timer (and worker). Idempotent. */
  stop(): void;
  /** Same as `stop()`, for `using watcher = watchStalls(…)`. */
  [Symbol.dispose](): void;
}

interface Open {
  readonly ref: WeakRef<object>;
  readonly start: number;
  readonly stall: Stall;
}

class StallWatch implements Watcher {
  /** Waits reported as stalled, by identity; weakly, so a report never keeps a primitive alive. */
  private readonly reported = new WeakMap<object, Open>();
  private readonly open = new Set<Open>();
  private readonly timer: ReturnType<typeof setInterval>;
  private stopped = false;

  constructor(
    private readonly threshold: number,
    interval: number,
    private readonly onStall: (stall: Stall) => void,
    private readonly filter: ((stall: Stall) => boolean) | undefined,
  ) {
    this.timer = setInterval(() => this.tick(), interval);
    this.timer.unref();
    enders.add(this.ended);
    useTiming();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    enders.delete(this.ended);
    unuseTiming();
  }

  [disposeSymbol](): void {
    this.stop();
  }

  /** Reports every wait past the threshold that was not reported yet, and ends those gone since. */
  tick(): void {
    try {
      this.scan();
    } catch (error) {
      process.stderr.write(`unwedge: watchStalls could not take a snapshot: ${String(error)}\n`);
    }
  }

  private scan(): void {
    const t = now();
    const seen = new Set<object>();
    for (const snapshot of snapshots()) {
      for (const w of snapshot.waits) {
        seen.add(w.key);
        const state = w.state ?? 'waiting';
        const previous = this.reported.get(w.key);
        if (previous !== undefined) {
          if (previous.stall.state === state) continue;
          // Same wait, new state (a running task abandoned, a registry task cancelled): the
          // stall in the old state ends here; the new one is reported if past the threshold.
          if (this.open.has(previous)) this.close(previous, undefined, t);
        }
        const { start, lowerBound } = startOf(w, t);
        if (t - start < this.threshold) continue;
        const stall: Stall = {
          phase: 'stalled',
          kind: snapshot.kind,
          name: snapshot.name,
          what: w.what,
          state,
          age: Math.round(t - start),
          ageIsLowerBound: lowerBound,
          timeout: w.timeout,
          outcome: undefined,
          origin: originFrames(originOf(w.key)),
        };
        const open: Open = { ref: new WeakRef(w.key), start, stall };
        this.reported.set(w.key, open); // decided: a wait left out is not asked about again
        if (!this.wanted(stall)) continue;
        this.open.add(open);
        this.emit(stall);
      }
    }
    for (const open of this.open) {
      const key = open.ref.deref();
      if (key === undefined || !seen.has(key)) this.close(open, undefined, t);
    }
  }

  /** A tracked wait ended (told by the wait mechanism itself): report it if it was reported stalled. */
  private readonly ended = (key: object, outcome: WaitOutcome): void => {
    if (this.open.size === 0) return;
    const open = this.reported.get(key);
    if (open !== undefined && this.open.has(open)) this.close(open, outcome, now());
  };

  private close(open: Open, outcome: WaitOutcome | undefined, t: number): void {
    this.open.delete(open);
    this.emit({ ...open.stall, phase: 'ended', age: Math.round(t - open.start), outcome });
  }

  private wanted(stall: Stall): boolean {
    if (this.filter === undefined) return true;
    try {
      return this.filter(stall) !== false;
    } catch (error) {
      process.stderr.write(`unwedge: watchStalls filter threw (the stall is reported): ${String(error)}\n`);
      return true;
    }
  }

  private emit(stall: Stall): void {
    try {
      this.onStall(stall);
    } catch (error) {
      process.stderr.write(`unwedge: watchStalls onStall threw: ${String(error)}\n`);
    }
  }
}

/**
 * The default `onStall`: one line on stderr, the origin frames below it.
 *
 * @example
 * ```ts
 * import { watchStalls, writeStall } from 'unwedge/inspect';
 * let stalled = 0;
 * watchStalls({
 *   threshold: 5_000,
 *   onStall: (stall) => {
 *     if (stall.phase === 'stalled') stalled++; // a metric, say
 *     writeStall(stall);
 *   },
 * });
 * ```
 */
export function writeStall(stall: Stall): void {
  const who = `${label(stall)} ${describeWait(stall)}`;
  const age = ageText(stall);
  const text =
    stall.phase === 'stalled'
      ? `unwedge: stalled: ${who} has waited ${age}\n${stall.origin.map((f) => `    ${f}\n`).join('')}`
      : `unwedge: stall ended: ${who} after ${age} (${stall.outcome ?? 'ended'})\n`;
  process.stderr.write(text);
}

/**
 * Watches every wait with one unref'd timer: each wait older than `threshold` ms is reported once
 * (with its origin), and once more when it ends, with how long it took. While a watcher runs, per-call
 * work (`withTimeout`, `fanOut`) records its start, so its age is exact. Never keeps the process alive.
 *
 * @example
 * ```ts
 * import { watchStalls } from 'unwedge/inspect';
 * const stalls = watchStalls({ threshold: 5_000 }); // stderr: "unwedge: stalled: queue "jobs" put (no timeout) has waited 5012 ms"
 * // ... at shutdown:
 * stalls.stop();
 * ```
 */
export function watchStalls(options: WatchStallsOptions): Watcher {
  const o = check.options<WatchStallsOptions>(options, WATCH_STALLS_KEYS);
  const threshold = check.duration(o.threshold, 'options.threshold');
  const interval =
    o.interval === undefined
      ? Math.min(threshold / 2, 1_000)
      : check.duration(o.interval, 'options.interval');
  const onStall =
    o.onStall === undefined ? writeStall : check.func<(stall: Stall) => void>(o.onStall, 'options.onStall');
  const filter =
    o.filter === undefined ? undefined : check.func<(stall: Stall) => boolean>(o.filter, 'options.filter');
  return new StallWatch(threshold, interval, onStall, filter);
}

export {
  type EventLoopBlock,
  type EventLoopWatcher,
  type WatchEventLoopOptions,
  watchEventLoop,
} from './inspect/event-loop.js';

// The stall watcher: one unref'd timer that looks at every wait and reports each one older than a
// threshold once, and again when it ends (told by the wait mechanism, or noticed by its absence).

import { enders } from '../core/channels.js';
import { disposeSymbol } from '../core/compat.js';
import { count } from '../core/count.js';
import { snapshots } from '../core/live.js';
import { originFrames, originOf } from '../core/origins.js';
import type { Redact } from '../core/sample.js';
import { now, unuseTiming, useTiming, type WaitOutcome } from '../core/track.js';
import * as check from '../core/validate.js';
import { ageText, DEFAULT_LIMIT, describeWait, label, startOf } from './dump.js';

/**
 * A wait that {@link watchStalls} reports: once when it passes the threshold, once when it ends.
 *
 * @example
 * ```ts
 * import { BoundedQueue } from 'unwedge';
 * import { type Stall, watchStalls } from 'unwedge/inspect';
 * const jobs = new BoundedQueue<string>({ capacity: 1, name: 'stall-demo' });
 * await jobs.put('a');
 * const put = jobs.put('b').catch(() => {}); // nobody takes: it stalls
 * const stall = await new Promise<Stall>((resolve) => {
 *   const watcher = watchStalls({
 *     threshold: 50,
 *     filter: (s) => s.name === 'stall-demo',
 *     onStall: (s) => {
 *       watcher.stop();
 *       resolve(s);
 *     },
 *   });
 * });
 * console.log(stall.phase, stall.kind, stall.what, stall.timeout, stall.age >= 50); // → stalled queue put undefined true
 * jobs.shutdown({ immediate: true });
 * await put;
 * ```
 */
export interface Stall {
  /**
   * `'stalled'`: it has waited longer than the threshold. `'ended'`: a stalled wait ended.
   * `'backlog'`: `count` more waits of this primitive are past the threshold, beyond the `limit`
   * reported one by one (said when a backlog appears, and again each time it doubles).
   */
  readonly phase: 'stalled' | 'ended' | 'backlog';
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
  /** `'backlog'` only: how many waits past the threshold were not reported one by one. */
  readonly count?: number;
}

/**
 * Options of {@link watchStalls}.
 *
 * @example
 * ```ts
 * import { watchStalls, type WatchStallsOptions, writeStall } from 'unwedge/inspect';
 * const options: WatchStallsOptions = {
 *   threshold: 10_000, // report waits older than 10 s
 *   interval: 1_000, // look once a second
 *   filter: (s) => !(s.kind === 'queue' && s.what === 'get'), // an idle consumer's get is no stall
 *   limit: 20, // at most 20 waits per primitive one by one, then one backlog line
 *   redact: (name) => name.replace(/\d+/g, '<n>'), // e.g. ids in names
 *   onStall: writeStall, // the default: a line on stderr
 * };
 * const watcher = watchStalls(options);
 * // ... at shutdown:
 * watcher.stop();
 * ```
 */
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
  /**
   * At most this many waits per primitive are looked at one by one, the oldest; the others past
   * the threshold are reported as one `'backlog'` stall per primitive, so that a backlog of
   * 100,000 waits never prints 100,000 lines. A safe integer >= 0, or `Infinity`. Default 100.
   */
  limit?: number;
  /** Applied to every name a stall shows, as `inspect()`'s `redact`. Default: names as given. */
  redact?: (name: string) => string;
}

const WATCH_STALLS_KEYS = ['threshold', 'interval', 'onStall', 'filter', 'limit', 'redact'] as const;

/**
 * A running watcher: {@link watchStalls} or {@link watchEventLoop}.
 *
 * @example
 * ```ts
 * import { type Watcher, watchStalls } from 'unwedge/inspect';
 * {
 *   using watcher: Watcher = watchStalls({ threshold: 5_000 });
 *   // ... while this block runs, waits older than 5 s are reported on stderr
 * } // stopped here, as by watcher.stop()
 * ```
 */
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
  /** Per primitive (by label), the backlog last reported. */
  private readonly backlogs = new Map<string, number>();
  private readonly timer: ReturnType<typeof setInterval>;
  private stopped = false;

  constructor(
    private readonly threshold: number,
    interval: number,
    private readonly onStall: (stall: Stall) => void,
    private readonly filter: ((stall: Stall) => boolean) | undefined,
    private readonly limit: number,
    private readonly redact: Redact | undefined,
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
    const backlogs = new Set<string>();
    const { limit, redact, threshold } = this;
    for (const snapshot of snapshots({ limit, redact, overAge: threshold })) {
      const name =
        snapshot.name === undefined || redact === undefined ? snapshot.name : redact(snapshot.name);
      const backlog = snapshot.omitted?.over ?? 0;
      if (backlog > 0) {
        const who = label({ kind: snapshot.kind, name });
        backlogs.add(who);
        this.backlog(who, snapshot.kind, name, backlog);
      }
      for (const w of snapshot.waits) {
        seen.add(w.key);
        const state = w.state ?? 'waiting';
        const previous = this.reported.get(w.key);
        if (previous !== undefined) {
          if (previous.stall.state === state) continue;
          // Same wait, new state (a running task abandoned, a registry task cancelled): the
          // stall in the old state ends here; the new one is reported if past the threshold.
          if (this.open.has(previous)) this.#endStall(previous, undefined, t);
        }
        const { start, lowerBound } = startOf(w, t);
        if (t - start < this.threshold) continue;
        const stall: Stall = {
          phase: 'stalled',
          kind: snapshot.kind,
          name,
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
      if (key === undefined || !seen.has(key)) this.#endStall(open, undefined, t);
    }
    for (const who of this.backlogs.keys()) if (!backlogs.has(who)) this.backlogs.delete(who);
  }

  /** `n` waits of primitive `who` past the threshold were not looked at: said when new or doubled. */
  private backlog(who: string, kind: string, name: string | undefined, n: number): void {
    const previous = this.backlogs.get(who);
    if (previous !== undefined && n < previous * 2) return;
    this.backlogs.set(who, n);
    const what = `${count(n, 'more wait')} past the threshold, not listed one by one`;
    this.emit({
      phase: 'backlog',
      kind,
      name,
      what,
      state: 'waiting',
      age: this.threshold,
      ageIsLowerBound: true,
      timeout: undefined,
      outcome: undefined,
      origin: [],
      count: n,
    });
  }

  /** A tracked wait ended (told by the wait mechanism itself): report it if it was reported stalled. */
  private readonly ended = (key: object, outcome: WaitOutcome): void => {
    if (this.open.size === 0) return;
    const open = this.reported.get(key);
    if (open !== undefined && this.open.has(open)) this.#endStall(open, outcome, now());
  };

  #endStall(open: Open, outcome: WaitOutcome | undefined, t: number): void {
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
 * const watcher = watchStalls({
 *   threshold: 5_000,
 *   onStall: (stall) => {
 *     if (stall.phase === 'stalled') stalled++; // a metric, say
 *     writeStall(stall); // and the default line on stderr
 *   },
 * });
 * // ... at shutdown:
 * watcher.stop();
 * console.log(`${stalled} stalls`); // → 0 stalls
 * ```
 */
export function writeStall(stall: Stall): void {
  const who = `${label(stall)} ${describeWait(stall)}`;
  const age = ageText(stall);
  const text =
    stall.phase === 'stalled'
      ? `unwedge: stalled: ${who} has waited ${age}\n${stall.origin.map((f) => `    ${f}\n`).join('')}`
      : stall.phase === 'backlog'
        ? `unwedge: stalled: ${label(stall)}: ${stall.what} (each >= ${stall.age} ms)\n`
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
 * // stderr, for each wait older than 5 s: unwedge: stalled: queue "jobs" put (no timeout) has waited … ms
 * // and when it ends: unwedge: stall ended: queue "jobs" put (no timeout) after … ms (granted)
 * const stalls = watchStalls({ threshold: 5_000 });
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
  const limit = o.limit === undefined ? DEFAULT_LIMIT : check.integerOrInfinity(o.limit, 'options.limit', 0);
  const redact = o.redact === undefined ? undefined : check.func<Redact>(o.redact, 'options.redact');
  return new StallWatch(threshold, interval, onStall, filter, limit, redact);
}

// The dump: a snapshot of every live primitive and what waits on it, as data and as py-spy style
// text. Never waits and changes nothing (beyond noting when it first saw a wait whose start was
// not recorded).

import { count } from '../core/count.js';
import { snapshotOf, snapshots } from '../core/live.js';
import { originFrames, originOf } from '../core/origins.js';
import type { Omitted, Redact } from '../core/sample.js';
import { firstSeen, now, type PrimitiveSnapshot, type WaitSnapshot } from '../core/track.js';
import * as check from '../core/validate.js';

/**
 * A snapshot of every live primitive and what waits on it, from {@link inspect}.
 *
 * @example
 * ```ts
 * import { type InspectReport, inspect } from 'unwedge/inspect';
 * const report: InspectReport = inspect();
 * console.log(report.pid === process.pid, typeof report.takenAt); // → true string
 * const busiest = report.primitives[0]; // the one with the oldest wait, if any waits
 * if (busiest !== undefined && busiest.waits.length > 0) console.error(`${busiest.kind}: ${busiest.summary}`);
 * ```
 */
export interface InspectReport {
  /** The process the snapshot was taken in. */
  readonly pid: number;
  /** When the snapshot was taken, ISO 8601. */
  readonly takenAt: string;
  /** How many waits (and running tasks) there are in all: listed, and counted in `omitted`. */
  readonly waits: number;
  /** Primitives with waits first (the oldest wait first), then idle ones. */
  readonly primitives: readonly PrimitiveReport[];
}

/**
 * One primitive, or one kind of per-call work (`withTimeout`, `fanOut`), in an {@link InspectReport}.
 *
 * @example
 * ```ts
 * import { Semaphore } from 'unwedge';
 * import { inspect, type PrimitiveReport } from 'unwedge/inspect';
 * const storage = new Semaphore(2, { name: 'report-demo' });
 * const permit = await storage.acquire({ weight: 2 });
 * const waiting = storage.acquire().then((p) => p.release()); // parks: both permits are held
 * const entry: PrimitiveReport = inspect().primitives.find((p) => p.name === 'report-demo')!;
 * console.log(entry.kind, entry.stats, entry.waits.length); // → semaphore { permits: 2, inUse: 2, waiting: 1 } 1
 * permit.release();
 * await waiting;
 * ```
 */
export interface PrimitiveReport {
  /** `semaphore`, `queue`, `pool`, `registry`, `withTimeout`, `fanOut`. */
  readonly kind: string;
  /** The primitive's `name` option; `undefined` when it has none, and for per-call work. */
  readonly name: string | undefined;
  /** Limits and use in one line, e.g. `32 permits, 32 in use, 17 waiting`. */
  readonly summary: string;
  /** The same figures as fields, e.g. `{ permits: 32, inUse: 32, waiting: 17 }`. */
  readonly stats: Readonly<Record<string, number | string | boolean | undefined>>;
  /** Oldest first, at most `limit` of them (see {@link InspectOptions}). */
  readonly waits: readonly WaitReport[];
  /** The waits beyond `limit`, counted by age and not listed; `undefined` when every wait is listed. */
  readonly omitted: OmittedWaits | undefined;
}

/**
 * The age ranges {@link OmittedWaits} counts waits in.
 *
 * @example
 * ```ts
 * import { type AgeRange, inspect } from 'unwedge/inspect';
 * const old: AgeRange[] = ['10s-1min', '>=1min'];
 * for (const p of inspect({ limit: 10 }).primitives) {
 *   const count = old.reduce((n, range) => n + (p.omitted?.ages[range] ?? 0), 0);
 *   if (count > 0) console.error(`${p.kind} ${p.name}: ${count} more waits older than 10 s`);
 * }
 * ```
 */
export type AgeRange = '<10ms' | '10ms-100ms' | '100ms-1s' | '1s-10s' | '10s-1min' | '>=1min';

const AGE_RANGES: readonly AgeRange[] = ['<10ms', '10ms-100ms', '100ms-1s', '1s-10s', '10s-1min', '>=1min'];

/**
 * The waits of a primitive beyond the limit of a dump: counted by age, not listed.
 *
 * @example
 * ```ts
 * import { Semaphore } from 'unwedge';
 * import { inspect, type OmittedWaits } from 'unwedge/inspect';
 * const db = new Semaphore(1, { name: 'omitted-demo' });
 * const permit = await db.acquire();
 * const line = Array.from({ length: 5 }, () => db.acquire().then((p) => p.release())); // five wait
 * const entry = inspect({ limit: 2 }).primitives.find((p) => p.name === 'omitted-demo')!;
 * const omitted: OmittedWaits = entry.omitted!;
 * console.log(entry.waits.length, omitted.count); // → 2 3
 * permit.release();
 * await Promise.all(line);
 * ```
 */
export interface OmittedWaits {
  /** How many. */
  readonly count: number;
  /** How many in each age range (those with a recorded start). */
  readonly ages: Readonly<Record<AgeRange, number>>;
  /** How many started while timing was off (see {@link InspectConfig.recordAges}): age unknown. */
  readonly unknownAge: number;
}

/**
 * Options of {@link inspect}.
 *
 * @example
 * ```ts
 * import { type InspectOptions, formatInspect, inspect } from 'unwedge/inspect';
 * const options: InspectOptions = {
 *   limit: 10, // the 10 oldest waits per primitive; the rest are counted by age
 *   redact: (name) => name.replace(/[\w.+-]+@[\w.-]+/g, '<email>'), // names may hold user data
 * };
 * process.stderr.write(formatInspect(inspect(options)));
 * ```
 */
export interface InspectOptions {
  /**
   * At most this many waits are listed per primitive (and per kind of call), the oldest; the rest
   * are counted by age in `omitted`, so a dump's cost does not grow with a backlog. A safe integer
   * >= 0, or `Infinity` for every wait. Default 100.
   */
  limit?: number;
  /**
   * Applied to every name the dump shows (a primitive's `name`, a registry task's, a `withTimeout`
   * call's), e.g. to hide an email or a token that ended up in one. Default: names as given.
   */
  redact?: (name: string) => string;
}

const INSPECT_KEYS = ['limit', 'redact'] as const;

/** Waits listed per primitive unless asked otherwise. */
export const DEFAULT_LIMIT = 100;

/** @internal {@link InspectOptions}, checked: throws a TypeError/RangeError naming the bad option. */
export function checkInspectOptions(options: InspectOptions | undefined): {
  limit: number;
  redact: Redact | undefined;
} {
  const o = check.options<InspectOptions>(options, INSPECT_KEYS);
  return {
    limit: o.limit === undefined ? DEFAULT_LIMIT : check.integerOrInfinity(o.limit, 'options.limit', 0),
    redact: o.redact === undefined ? undefined : check.func<Redact>(o.redact, 'options.redact'),
  };
}

/**
 * One parked caller or running task in a {@link PrimitiveReport}.
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { WorkerPool } from 'unwedge';
 * import { inspect, type WaitReport } from 'unwedge/inspect';
 * const pool = new WorkerPool({ concurrency: 1, name: 'wait-report-demo' });
 * const running = pool.run((signal) => sleep(50, 'done', { signal }), { timeout: 1_000 });
 * const waits: readonly WaitReport[] = inspect().primitives.find((p) => p.name === 'wait-report-demo')!.waits;
 * console.log(waits.map((w) => `${w.state} ${w.what} ${w.timeout}`)); // → [ 'running task 1000' ]
 * await running;
 * await pool.shutdown();
 * ```
 */
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
export function inspect(options?: InspectOptions): InspectReport {
  const { limit, redact } = checkInspectOptions(options);
  const t = now();
  const primitives: Array<PrimitiveReport & { oldest: number }> = [];
  let count = 0;
  for (const snapshot of snapshots({ limit, redact })) {
    const report = primitiveReport(snapshot, t, redact);
    count += report.waits.length + (report.omitted?.count ?? 0);
    primitives.push({ ...report, oldest: report.waits[0]?.age ?? -1 });
  }
  primitives.sort((a, b) => b.oldest - a.oldest);
  return {
    pid: process.pid,
    takenAt: new Date().toISOString(),
    waits: count,
    primitives: primitives.map(({ oldest: _, ...p }) => p),
  };
}

/**
 * @internal What {@link inspect} would list for `primitive` alone (its waits oldest first, at
 * most `limit`), or `undefined` when the inspector does not list it. For a shutdown's report of
 * what was still running.
 */
export function inspectOne(primitive: object, limit = DEFAULT_LIMIT): PrimitiveReport | undefined {
  const snapshot = snapshotOf(primitive, { limit });
  return snapshot === undefined ? undefined : primitiveReport(snapshot, now(), undefined);
}

function primitiveReport(
  snapshot: PrimitiveSnapshot,
  t: number,
  redact: Redact | undefined,
): PrimitiveReport {
  const waits = snapshot.waits.map((w) => waitReport(w, t)).sort((a, b) => b.age - a.age);
  const omitted = snapshot.omitted === undefined ? undefined : omittedReport(snapshot.omitted);
  const { kind, summary, stats } = snapshot;
  const name = snapshot.name === undefined || redact === undefined ? snapshot.name : redact(snapshot.name);
  return { kind, name, summary, stats, waits, omitted };
}

/**
 * When `w` started, on the `now()` clock; from first sight when its start was not recorded. Shared
 * with the stall watcher, so that a stall and the dump give a wait the same age.
 */
export function startOf(w: WaitSnapshot, t: number): { start: number; lowerBound: boolean } {
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

function omittedReport(o: Omitted): OmittedWaits {
  const ages = {} as Record<AgeRange, number>;
  AGE_RANGES.forEach((range, i) => {
    ages[range] = o.ages[i]!;
  });
  return { count: o.count, ages, unknownAge: o.unknownAge };
}

/** `semaphore "storage-chunks"`, or `semaphore` when it has no name. */
export function label(p: { kind: string; name: string | undefined }): string {
  return p.name === undefined ? p.kind : `${p.kind} ${JSON.stringify(p.name)}`;
}

/** `[running] task (timeout 500 ms)`: a wait's line in the dump and in a stall report. */
export function describeWait(w: Pick<WaitReport, 'what' | 'state' | 'timeout'>): string {
  const state = w.state === 'waiting' ? '' : `[${w.state}] `;
  const limit = w.timeout === undefined ? 'no timeout' : `timeout ${w.timeout} ms`;
  return `${state}${w.what} (${limit})`;
}

/**
 * Renders a report as text, py-spy style: one block per primitive with its limits and use, one
 * line per listed wait (oldest first; {@link inspect} lists at most 100 per primitive by default)
 * with its age and its origin frames indented below, then one line counting the rest by age; idle
 * primitives are listed at the end, one line each. Takes a fresh {@link inspect}() by default.
 *
 * @example
 * ```ts
 * import { BoundedQueue } from 'unwedge';
 * import { formatInspect } from 'unwedge/inspect';
 * const jobs = new BoundedQueue<string>({ capacity: 1, name: 'format-demo' });
 * await jobs.put('a');
 * const stuck = jobs.put('b').catch(() => {}); // waits: nobody takes
 * const text = formatInspect();
 * console.log(text.split('\n').find((line) => line.startsWith('queue "format-demo"'))); // → queue "format-demo": 1/1 queued, 0 taken and not done, no get yet, 1 put waiting
 * jobs.shutdown({ immediate: true });
 * await stuck;
 * ```
 */
export function formatInspect(report: InspectReport = inspect()): string {
  const busy = report.primitives.filter((p) => p.waits.length > 0 || p.omitted !== undefined);
  const idle = report.primitives.filter((p) => p.waits.length === 0 && p.omitted === undefined);
  const lines = [
    `unwedge: ${count(report.waits, 'wait')} in ${busy.length} of ` +
      `${count(report.primitives.length, 'primitive')} ` +
      `(pid ${report.pid}, ${report.takenAt})`,
  ];
  for (const p of busy) {
    lines.push('', `${label(p)}: ${p.summary}`);
    let width = 0;
    for (const w of p.waits) width = Math.max(width, ageText(w).length);
    for (const w of p.waits) {
      lines.push(`  ${ageText(w).padStart(width)}  ${describeWait(w)}`);
      for (const frame of w.origin) lines.push(`        ${frame}`);
    }
    if (p.omitted !== undefined) lines.push(`  … and ${omittedText(p.omitted)}`);
  }
  if (idle.length > 0) {
    lines.push('', 'idle:');
    for (const p of idle) lines.push(`  ${label(p)}: ${p.summary}`);
  }
  return `${lines.join('\n')}\n`;
}

/** `99900 more, not listed: 900 1s-10s, 99000 10s-1min`. */
export function omittedText(o: OmittedWaits): string {
  const parts = AGE_RANGES.filter((r) => o.ages[r] > 0).map((r) => `${o.ages[r]} ${r}`);
  if (o.unknownAge > 0) parts.push(`${o.unknownAge} of unknown age`);
  return `${o.count} more, not listed: ${parts.join(', ')}`;
}

/** `1230 ms`, or `>=1230 ms` when the age is a lower bound. */
export function ageText(w: Pick<WaitReport, 'age' | 'ageIsLowerBound'>): string {
  return `${w.ageIsLowerBound ? '>=' : ''}${w.age} ms`;
}

// What the fault campaign (campaign.ts) counts, as pure functions of the sections its workers
// recorded: how many overlapped while believing they held a permit, how many overlapped at all,
// and how long the service took to get its throughput back. Times are ms on one clock shared by
// every process of the machine (performance.timeOrigin + performance.now()).

/** One critical section, as its worker printed it. */
export interface Section {
  worker: number;
  start: number;
  /** When it ended; `undefined` if its process was killed inside it. */
  end: number | undefined;
  /** When its permit's signal aborted during it, if it did. */
  lost: number | undefined;
}

/** What happened to one worker process during the run: stopped (SIGSTOP to SIGCONT) or killed. */
export interface Fate {
  stopped?: { from: number; to: number };
  killedAt?: number;
}

/**
 * How long a process stopped past its lease may go on after SIGCONT: its first turn, in which
 * the timers due while it was stopped all run (the lease check among them). Campaign runs show the
 * largest such tail in their "after resume" column; it must stay within this.
 */
export const FIRST_TURN_MS = 20;

/** The span `[from, to)` in which a section held its permit and its signal was not aborted. */
function believedUntil(s: Section, fate: Fate): number {
  const end = s.end ?? fate.killedAt ?? Number.POSITIVE_INFINITY;
  return Math.min(end, s.lost ?? Number.POSITIVE_INFINITY);
}

/**
 * The spans in which `s` believed it held a permit, as the issue counts them: a process does
 * nothing while stopped, and its sections count again from SIGCONT plus its first turn, whenever
 * they began. A section that spans the stop must have ended, or been told, by then; one that
 * begins in that first turn may hold a permit handed over just before the stop, whose signal the
 * semaphore aborts at its first callback (docs/redis.md).
 */
export function believed(s: Section, fate: Fate): Array<[number, number]> {
  const until = believedUntil(s, fate);
  const stop = fate.stopped;
  const resumed = stop === undefined ? undefined : stop.to + FIRST_TURN_MS;
  if (stop === undefined || until <= stop.from || s.start >= resumed!) return [[s.start, until]];
  const spans: Array<[number, number]> = [];
  if (s.start < stop.from) spans.push([s.start, Math.min(until, stop.from)]);
  if (until > resumed!) spans.push([Math.max(s.start, resumed!), until]);
  return spans;
}

/** For a section that spans its process's stop: how long after SIGCONT it still believed. */
export function afterResume(s: Section, fate: Fate): number | undefined {
  const stop = fate.stopped;
  if (stop === undefined || s.start >= stop.from) return undefined;
  const until = believedUntil(s, fate);
  return until > stop.to ? until - stop.to : undefined;
}

/** The most spans open at once; a span is `[from, to)`, so one ending as another starts is not an overlap. */
export function maxOverlap(spans: Array<[number, number]>): { max: number; at: number | undefined } {
  const events: Array<[number, number]> = [];
  for (const [from, to] of spans) {
    if (to <= from) continue;
    events.push([from, 1], [to, -1]);
  }
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]); // at one time, ends first
  let open = 0;
  let max = 0;
  let at: number | undefined;
  for (const [time, delta] of events) {
    open += delta;
    if (open > max) {
      max = open;
      at = time;
    }
  }
  return { max, at };
}

/**
 * How long after `faultEnd` the service had its throughput back: the start of the first 100 ms
 * window (windows stepped by 10 ms) from `faultEnd` on in which as many sections started as in 80 %
 * of the median 100 ms window before the fault. `undefined` if that never happened before `runEnd`.
 */
export function recovery(
  starts: number[],
  before: [number, number],
  faultEnd: number,
  runEnd: number,
): number | undefined {
  const sorted = [...starts].sort((a, b) => a - b);
  const count = (from: number) => lowerBound(sorted, from + 100) - lowerBound(sorted, from);
  const windows: number[] = [];
  for (let t = before[0]; t + 100 <= before[1]; t += 100) windows.push(count(t));
  if (windows.length === 0) return undefined;
  windows.sort((a, b) => a - b);
  const target = 0.8 * windows[Math.floor(windows.length / 2)]!;
  for (let t = faultEnd; t + 100 <= runEnd; t += 10) {
    if (count(t) >= target) return t - faultEnd;
  }
  return undefined;
}

function lowerBound(sorted: number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

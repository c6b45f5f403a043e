// What a snapshot reads of a primitive's waits: the oldest few, described, and a count by age of
// the rest. A live service under trouble is exactly when a primitive has 100,000 parked waits;
// describing each (an object, its text, its origin) made one dump of them 17 MB and blocked the
// event loop 299 ms (697 ms with origins). Counting the rest reads one number per wait and
// allocates nothing, so a dump costs O(primitives x limit) objects, whatever the backlog
// (docs/inspect.md has the figures).
import type { Tracked, WaitSnapshot } from './track.js';
import { type Link, WaiterList } from './waiters.js';

/** Upper bounds (ms, exclusive) of the age buckets the waits beyond the limit are counted in. */
export const AGE_BUCKETS = [10, 100, 1_000, 10_000, 60_000] as const;

/** Waits of a primitive beyond the limit of a snapshot: counted, not described. */
export interface Omitted {
  /** How many. */
  readonly count: number;
  /**
   * How many in each age bucket: `[under 10 ms, 10-100 ms, 100 ms-1 s, 1-10 s, 10 s-1 min, 1 min
   * and more]` (bounds in `AGE_BUCKETS`). Waits whose start was not recorded are not in it.
   */
  readonly ages: readonly number[];
  /** How many have no recorded start (timing was off when they began): their age is unknown. */
  readonly unknownAge: number;
  /** How many are at least `over` ms old, when the sample was asked (a stall watcher's threshold). */
  readonly over: number;
}

/** The start of a tracked wait, for {@link Sample.take}. */
export const sinceOf = (w: Tracked): number => w.since;

/** Turns a user-given name (a primitive's, a task's) into what a dump may show. */
export type Redact = (name: string) => string;

/**
 * Collects the waits of one primitive for a snapshot: of each list handed to {@link take}, oldest
 * first, the first `limit` are described; after all lists, the `limit` oldest of those are kept and
 * every other wait is counted by age.
 */
export class Sample {
  #waits: WaitSnapshot[] = [];
  #count = 0;
  #unknown = 0;
  #over = 0;
  readonly #ages = new Array<number>(AGE_BUCKETS.length + 1).fill(0);

  constructor(
    /** At most this many waits are described: a safe integer >= 0, or Infinity. */
    readonly limit: number,
    /** The snapshot's time, on the `now()` clock. */
    readonly t: number,
    readonly redact: Redact | undefined = undefined,
    /** Count the omitted waits at least this old (ms). */
    readonly overAge = Number.POSITIVE_INFINITY,
  ) {}

  /** `name` as the dump may show it (through `redact`). */
  name(name: string): string {
    return this.redact === undefined ? name : this.redact(name);
  }

  /** `name` as the dump may show it, quoted: `"db-connect"`. */
  quote(name: string): string {
    return JSON.stringify(this.name(name));
  }

  /**
   * Takes one list of waits, oldest first: describes the first `limit` with `describe`, and counts
   * the rest by `since` (their start on the `now()` clock, negative when not recorded).
   */
  take<W>(list: Iterable<W>, since: (w: W) => number, describe: (w: W) => WaitSnapshot): void {
    let described = 0;
    const visit = (w: W) => {
      if (described < this.limit) {
        this.#waits.push(describe(w));
        described++;
      } else {
        this.#omit(since(w));
      }
    };
    // A WaiterList is walked by its links: its generator cost ~40 ns a wait, more than half of a
    // dump behind 100,000 waits (7.8 -> 2.0 ms for the text dump, bench/inspect.ts).
    if (list instanceof WaiterList) {
      for (let w = list.head as (W & Link) | undefined; w !== undefined; w = w.next as (W & Link) | undefined)
        visit(w);
    } else {
      for (const w of list) visit(w);
    }
  }

  /** The described waits, the `limit` oldest of them (the others now counted); then {@link omitted}. */
  waits(): WaitSnapshot[] {
    if (this.#waits.length > this.limit) {
      // Oldest first; a wait with no recorded start (negative `since`) sorts last.
      const key = (w: WaitSnapshot) => (w.since >= 0 ? w.since : Number.POSITIVE_INFINITY);
      this.#waits.sort((a, b) => key(a) - key(b));
      for (const w of this.#waits.splice(this.limit)) this.#omit(w.since);
    }
    return this.#waits;
  }

  /** The waits counted and not described; `undefined` when every wait was described. */
  omitted(): Omitted | undefined {
    if (this.#count === 0) return undefined;
    return { count: this.#count, ages: [...this.#ages], unknownAge: this.#unknown, over: this.#over };
  }

  #omit(since: number): void {
    this.#count++;
    if (since < 0) {
      this.#unknown++;
      return;
    }
    const age = this.t - since;
    if (age >= this.overAge) this.#over++;
    let bucket = 0;
    while (bucket < AGE_BUCKETS.length && age >= AGE_BUCKETS[bucket]!) bucket++;
    this.#ages[bucket]!++;
  }
}

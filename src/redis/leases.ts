// The permits one RedisSemaphore instance holds. Each is a lease in Redis that the loop (loop.ts)
// refreshes; a lease found lost aborts its permit's signal, and only release() gives it back.
// Each lease is also timed here, on this process's monotonic clock: Redis set its expiry when it
// ran the command that granted or last refreshed it, so no earlier than that command was sent.
// Past that send time + trustMs the permit may be someone else's, whatever Redis would answer.
import { publishLeaseLost } from '../core/channels.js';
import { disposeSymbol } from '../core/compat.js';
import { now as clock } from '../core/track.js';
import { LeaseLostError } from '../errors.js';
import type { Permit } from '../semaphore/semaphore.js';
import type { Link, Spec } from './client.js';

// Permits are returned only through a permit, never through a public method that could over-release.
let releaseLease: (leases: Leases, permit: LeasedPermit) => void;

/** A held permit: a `RedisPermit` (semaphore.ts). */
class LeasedPermit implements Permit {
  released = false;
  readonly #leases: Leases;
  // Created on first use: most permits are released without anyone reading their signal.
  #controller: AbortController | undefined = undefined;
  constructor(
    leases: Leases,
    readonly id: string,
    readonly weight: number,
    /** When the last command that granted or refreshed the lease was sent (performance.now()). */
    public confirmedAt: number,
    readonly fence: number,
  ) {
    this.#leases = leases;
  }

  // Reading the signal does not check the lease's clock: it would abort the signal as it is read,
  // and code that then adds an 'abort' listener without checking `aborted` would wait forever.
  // A lapse is told at the semaphore's first callback instead (docs/redis.md, one turn).
  get signal(): AbortSignal {
    this.#controller ??= new AbortController();
    return this.#controller.signal;
  }

  abort(reason: Error): void {
    this.#controller ??= new AbortController();
    this.#controller.abort(reason);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    releaseLease(this.#leases, this);
  }

  [disposeSymbol](): void {
    this.release();
  }
}

/** The leases of one instance, by id. */
export class Leases {
  readonly #byId = new Map<string, LeasedPermit>();
  #weight = 0;
  readonly #link: Link;
  readonly #spec: Spec;
  /** How `unwedge:lease:lost` names the semaphore. */
  readonly #name: string;
  /**
   * Fires at `#due`, no later than the earliest lapse of a lease held (a lapse only moves later:
   * a refresh, a release). Unref'd: it bounds a lease, it does not keep the process alive.
   */
  #timer: ReturnType<typeof setTimeout> | undefined = undefined;
  #due = Number.POSITIVE_INFINITY;

  constructor(link: Link, spec: Spec) {
    this.#link = link;
    this.#spec = spec;
    this.#name = spec.name ?? spec.key;
  }

  /** How many leases are held. */
  get size(): number {
    return this.#byId.size;
  }

  /** How many permits they hold. */
  get held(): number {
    return this.#weight;
  }

  /** The ids of the leases held now. */
  ids(): string[] {
    return [...this.#byId.keys()];
  }

  /**
   * Says whether a lease confirmed by a command sent at `confirmedAt` is still trusted at `now`:
   * a grant that fails this is never handed to a caller.
   */
  live(confirmedAt: number, now: number): boolean {
    return now < confirmedAt + this.#spec.trustMs;
  }

  /** Holds the `weight` permits Redis granted as `id` with `fence`, by a command sent at `confirmedAt`. */
  take(id: string, weight: number, confirmedAt: number, fence: number): LeasedPermit {
    const permit = new LeasedPermit(this, id, weight, confirmedAt, fence);
    this.#byId.set(id, permit);
    this.#weight += weight;
    this.#arm(confirmedAt + this.#spec.trustMs);
    return permit;
  }

  /** Lease `id`, if still held, was refreshed by a command sent at `at`. */
  confirm(id: string, at: number): void {
    const permit = this.#byId.get(id);
    if (permit !== undefined && at > permit.confirmedAt) permit.confirmedAt = at;
  }

  /**
   * Every lease whose trust has run out by now is lost, without asking Redis. Called first in
   * every callback of this instance (timers, replies, wake-ups), so that after a pause of the
   * process its first callback tells the holders before anything else of ours runs.
   */
  expire(now = clock()): void {
    if (now < this.#due) return; // nothing can have lapsed: every lapse is at #due or later
    this.#disarm();
    const { trustMs, who, leaseMs } = this.#spec;
    const lapsed: LeasedPermit[] = [];
    let next = Number.POSITIVE_INFINITY;
    for (const permit of this.#byId.values()) {
      const lapse = permit.confirmedAt + trustMs;
      if (lapse <= now) lapsed.push(permit);
      else if (lapse < next) next = lapse;
    }
    this.#arm(next);
    for (const permit of lapsed) {
      const ago = Math.round(now - permit.confirmedAt);
      this.lose(permit.id, () =>
        leaseLost(who, `it lapsed here: Redis last confirmed it ${ago} ms ago, leaseMs is ${leaseMs}`),
      );
    }
  }

  /** Lease `id`, if still held, is gone: tell its holder. Its release() still tells Redis. */
  lose(id: string, reason: () => Error): void {
    const permit = this.#byId.get(id);
    if (permit === undefined) return;
    this.#forget(permit);
    const error = reason();
    publishLeaseLost(this.#name, error);
    permit.abort(error);
  }

  loseAll(reason: () => Error): void {
    for (const id of this.ids()) this.lose(id, reason);
  }

  #forget(permit: LeasedPermit): void {
    this.#byId.delete(permit.id);
    this.#weight -= permit.weight;
    if (this.#byId.size === 0) this.#disarm();
  }

  #arm(due: number): void {
    if (due >= this.#due) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#due = due;
    // A timer may fire a little early by this clock: expire() then finds nothing and arms again.
    this.#timer = setTimeout(this.#onDue, Math.max(1, Math.ceil(due - clock())));
    this.#timer.unref();
  }

  #disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#due = Number.POSITIVE_INFINITY;
  }

  readonly #onDue = (): void => {
    this.#timer = undefined;
    this.#due = Number.NEGATIVE_INFINITY; // look at every lease now, and arm for the next lapse
    this.expire();
  };

  /** A released permit is no longer refreshed here (unless it was lost), and leaves Redis too. */
  #release(permit: LeasedPermit): void {
    if (this.#byId.get(permit.id) === permit) this.#forget(permit);
    this.#link.drop(permit.id);
  }

  static {
    releaseLease = (leases, permit) => leases.#release(permit);
  }
}

/** A lease this instance can no longer vouch for, and why. */
export function leaseLost(who: string, why: string, cause?: unknown): LeaseLostError {
  const message = `${who} lost a permit: its lease could not be kept (${why})`;
  return new LeaseLostError(message, cause === undefined ? undefined : { cause });
}

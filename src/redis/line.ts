// The callers of one RedisSemaphore instance waiting for permits (the line itself is in Redis,
// shared by every instance): the host core/wait.ts parks them with, kept apart from the public
// class, as queue.ts keeps its Line, so that its hooks are not reachable on a RedisSemaphore.
import { count } from '../core/count.js';
import { type Sample, sinceOf } from '../core/sample.js';
import { now as clock, type WaitLabel } from '../core/track.js';
import { fail, settle, Waiter, type WaitHost } from '../core/wait.js';
import { WaiterList } from '../core/waiters.js';
import { TimeoutError } from '../errors.js';
import type { Permit } from '../semaphore/semaphore.js';
import type { Link, Spec } from './client.js';
import type { Leases } from './leases.js';

/** A caller in line, known to Redis by `id` (which carries its weight). */
export class RedisWaiter extends Waiter<Permit> {
  constructor(
    readonly id: string,
    readonly weight: number,
    readonly timeout: number | undefined,
    /** When its acquire was sent (performance.now()): a grant in that reply is confirmed then. */
    readonly sentAt: number,
  ) {
    super();
  }
}

function waitWhat(w: RedisWaiter): string {
  return `acquire ${count(w.weight, 'permit')}`;
}

/** The waiters of one instance, in order and by id: a grant arrives as an id (a reply, a message). */
export class Line implements WaitHost<RedisWaiter> {
  readonly waiters = new WaiterList<RedisWaiter>();
  readonly #byId = new Map<string, RedisWaiter>();
  readonly #link: Link;
  readonly #leases: Leases;
  readonly #spec: Spec;

  constructor(link: Link, leases: Leases, spec: Spec) {
    this.#link = link;
    this.#leases = leases;
    this.#spec = spec;
  }

  /** How many callers of this instance wait. */
  get length(): number {
    return this.waiters.length;
  }

  // --- what core/wait.ts calls -------------------------------------------------------------------

  timeoutError(waiter: { weight: number; timeout: number | undefined }): TimeoutError {
    const { who, permits } = this.#spec;
    const { seen, status } = this.#link;
    const what = waiter.weight === 1 ? 'permit' : `${waiter.weight} permits`;
    const state = `${count(permits, 'permit')}; Redis last said ${seen.used} in use, ${seen.queued} waiting`;
    const link = status === 'ready' ? '' : `; the Redis connection is ${status}`;
    return new TimeoutError(`${who} gave no ${what} within ${waiter.timeout} ms (${state}${link})`);
  }

  /** A waiter timed out or was aborted: take it out of the line in Redis too. */
  onLeave(waiter: RedisWaiter): void {
    this.#byId.delete(waiter.id);
    this.#link.drop(waiter.id);
  }

  /** How a parked caller is named in diagnostics_channel messages. */
  describeWait(w: RedisWaiter): WaitLabel {
    const { name, key } = this.#spec;
    return { kind: 'redis-semaphore', name: name ?? key, what: waitWhat(w), timeout: w.timeout };
  }

  // --- what the semaphore and the loop call ------------------------------------------------------

  /** Makes a waiter that `park` has just put in line findable by its id. */
  index(waiter: RedisWaiter): void {
    this.#byId.set(waiter.id, waiter);
  }

  /** Whether waiter `id` of this instance is still in line (a wake-up for one that left is ignored). */
  has(id: string): boolean {
    return this.#byId.has(id);
  }

  /**
   * Hands the permit Redis granted as `id` with `fence`, by a command sent at `confirmedAt`, to its
   * waiter; nothing if the waiter was already served, or left (its drop is on its way). An abort
   * or timeout takes a waiter out of line and out of the index in the same synchronous step, so a
   * waiter found here has not gone. Returns `false`, and leaves the waiter in line, when that
   * command was sent too long ago for the lease to be trusted (the process was stopped between
   * the send and the reply): handed over, the permit could already be someone else's. The next
   * tick names the waiter again: Redis refreshes the grant if it still stands, or puts the waiter
   * back at the end of the line.
   */
  grant(id: string, confirmedAt: number, fence: number): boolean {
    const waiter = this.#byId.get(id);
    if (waiter === undefined) return true;
    if (!this.#leases.live(confirmedAt, clock())) return false;
    this.#byId.delete(id);
    this.waiters.remove(waiter);
    settle(waiter, this.#leases.take(id, waiter.weight, confirmedAt, fence));
    return true;
  }

  /** Takes `waiter` out of line if it is still there, and says whether it was. */
  remove(waiter: RedisWaiter): boolean {
    if (!this.waiters.remove(waiter)) return false;
    this.#byId.delete(waiter.id);
    return true;
  }

  /**
   * Rejects every waiter with a fresh `reason()`, oldest first, and takes each out of the line in
   * Redis (nothing is sent once the client has ended).
   */
  failAll(reason: () => Error): void {
    for (const waiter of this.waiters.drain()) {
      fail(waiter, reason());
      this.#link.drop(waiter.id);
    }
    this.#byId.clear();
  }

  /** Appends the ids of the waiters, oldest first: a tick's heartbeat for each. */
  appendIds(args: Array<string | number>): void {
    for (const waiter of this.waiters) args.push(waiter.id);
  }

  /** Hands the waiters, oldest first, to an `inspect()` sample. */
  sample(sample: Sample): void {
    sample.take(this.waiters, sinceOf, (w) => ({
      key: w,
      what: waitWhat(w),
      since: w.since,
      timeout: w.timeout,
    }));
  }
}

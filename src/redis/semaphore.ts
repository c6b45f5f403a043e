// RedisSemaphore, the public class: acquire / acquireIfFree / run, inspect, close (its options and
// the RedisPermit it gives are types.ts). Its parts, each in a #private field: client.ts (the Redis side:
// the script call, batched drops, the subscriber), line.ts (this instance's callers in line, the
// host core/wait.ts parks them with), leases.ts (the permits held here), loop.ts (the instance's
// life and its refresh-and-poll loop); scripts.ts is the Lua script.
import { asyncDisposeSymbol } from '../core/compat.js';
import { count } from '../core/count.js';
import { register } from '../core/live.js';
import type { Sample } from '../core/sample.js';
import { now as clock, type Described } from '../core/track.js';
import * as check from '../core/validate.js';
import { bound, fail, park } from '../core/wait.js';
import { TimeoutError } from '../errors.js';
import type { AcquireOptions, SemaphoreLike } from '../semaphore/semaphore.js';
import { isReplyError, Link, redisError, type Spec } from './client.js';
import { Leases, leaseLost } from './leases.js';
import { Line, RedisWaiter } from './line.js';
import { Loop } from './loop.js';
import {
  REDIS_SEMAPHORE_KEYS,
  type RedisClient,
  type RedisPermit,
  type RedisSemaphoreOptions,
  type RedisSemaphoreState,
} from './types.js';

/**
 * A counting semaphore shared by every process that uses the same Redis `key`: at most `permits`
 * are held across all of them. Waiters queue in Redis in strict FIFO order across instances; a
 * release wakes the next waiter through pub/sub (a second connection, `client.duplicate()`),
 * with a poll every `min(leaseMs / 3, 1000)` ms as the fallback while callers wait. A grant is
 * held for its waiter's instance that long to claim it: a dead instance's waiters at the head of
 * the line cost the others that much, not a lease. Held permits are leases, refreshed every
 * `leaseMs / 3`: a process that dies loses its permits `leaseMs` after its last refresh, and a
 * holder that cannot refresh is told through its permit's `signal` — never re-acquired silently.
 * Each instance also times its leases on its own monotonic clock: a permit is handed over only
 * while its lease is known live, and its signal aborts as soon as it may have lapsed, even when
 * Redis cannot be asked. Every grant carries a fencing token, {@link RedisPermit.fence}.
 * docs/redis.md states exactly what a permit guarantees, and what it cannot.
 *
 * Every instance of one key must use the same `permits` and `leaseMs`. Call {@link close} when done.
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { Redis } from 'ioredis';
 * import { RedisSemaphore } from 'unwedge/redis';
 * const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
 * const storage = new RedisSemaphore(redis, { key: 'example:storage', permits: 32 });
 * // signal aborts if this process can no longer keep its lease: e.g. fetch(url, { signal })
 * const chunk = await storage.run((signal) => sleep(10, 'chunk 1', { signal }), { timeout: 5_000 });
 * console.log(chunk); // → chunk 1
 * await storage.close(); // sends the releases still pending; does not quit the client
 * await redis.quit(); // then the client, or the process never exits
 * ```
 */
export class RedisSemaphore implements SemaphoreLike, AsyncDisposable {
  /** The name given in the options, if any. */
  readonly name: string | undefined;
  /** The Redis key the permits live under. */
  readonly key: string;
  /** How many ms a lease lasts without a refresh. */
  readonly leaseMs: number;
  readonly #spec: Spec;
  readonly #link: Link;
  readonly #leases: Leases;
  readonly #line: Line;
  readonly #loop: Loop;

  /**
   * @param client an ioredis `Redis` or `Cluster`; the semaphore sends its scripts on it and never
   *   closes it. On a Cluster all of a semaphore's keys live in one slot (the `{key}` hash tag).
   */
  constructor(client: RedisClient, options: RedisSemaphoreOptions) {
    if (
      client === null ||
      typeof client !== 'object' ||
      typeof client.evalsha !== 'function' ||
      typeof client.duplicate !== 'function'
    ) {
      throw new TypeError(`client must be an ioredis client; received ${check.show(client)}`);
    }
    const o = check.options<RedisSemaphoreOptions>(options, REDIS_SEMAPHORE_KEYS);
    const key = check.string(o.key, 'options.key');
    if (key === undefined || key === '') {
      throw new TypeError(`options.key must be a non-empty string; received ${check.show(o.key)}`);
    }
    const permits = check.integer(o.permits, 'options.permits', 1);
    this.leaseMs = o.leaseMs === undefined ? 10_000 : check.integer(o.leaseMs, 'options.leaseMs', 30);
    this.name = check.string(o.name, 'options.name');
    const onError =
      o.onError === undefined
        ? undefined
        : check.func<(error: unknown) => void>(o.onError, 'options.onError');
    this.key = key;
    this.#spec = {
      key,
      name: this.name,
      who: `semaphore ${JSON.stringify(this.name ?? key)}`,
      permits,
      leaseMs: this.leaseMs,
      period: Math.floor(this.leaseMs / 3),
      claimMs: Math.min(Math.floor(this.leaseMs / 3), 1_000),
      trustMs: this.leaseMs - Math.floor(this.leaseMs / 100) - 2,
      onError,
    };
    this.#link = new Link(client, this.#spec);
    this.#leases = new Leases(this.#link, this.#spec);
    this.#line = new Line(this.#link, this.#leases, this.#spec);
    this.#loop = new Loop(this.#link, this.#line, this.#leases, this.#spec);
    register(this, RedisSemaphore.snapshot);
  }

  /** @internal What `inspect()` shows: the permits, what this instance holds, and its callers in line. */
  private static snapshot(s: RedisSemaphore, sample: Sample): Described {
    s.#line.sample(sample);
    const { permits, name, key } = s.#spec;
    const { used, queued } = s.#link.seen;
    const held = s.#leases.held;
    const waiting = s.#line.length;
    const state = s.#loop.closed ? 'closed' : 'open';
    return {
      kind: 'redis-semaphore',
      name: name ?? key,
      summary:
        `${count(permits, 'permit')}; ${held} held and ${waiting} waiting here; ` +
        `Redis last said ${used} in use, ${queued} waiting${state === 'closed' ? ', closed' : ''}`,
      stats: { permits, held, waiting, redisInUse: used, redisWaiting: queued, state },
    };
  }

  /** How many permits exist across all instances. */
  get permits(): number {
    return this.#spec.permits;
  }

  /** How many permits this instance holds now. */
  get held(): number {
    return this.#leases.held;
  }

  /** How many callers of this instance wait in line (the line itself is in Redis, shared). */
  get waiting(): number {
    return this.#line.length;
  }

  /**
   * Waits until `weight` permits are free in Redis and every earlier waiter of every instance has
   * been served, then resolves with a {@link RedisPermit}. The wait ends early with a
   * `TimeoutError` after `timeout` ms (round trips to Redis included), with exactly
   * `signal.reason` when `signal` aborts, or with a `ClosedError` when the semaphore is closed or
   * its client has ended; in every such case no permit is kept. While Redis is unreachable the wait
   * goes on until one of those. A grant whose lease may have lapsed before it reached this process
   * (stopped meanwhile) is not handed over: the caller stays in line, or goes back to its end if
   * Redis has given the permit to someone else. `timeout: 0` makes one attempt and never queues.
   */
  acquire(options?: AcquireOptions): Promise<RedisPermit> {
    let weight: number;
    let signal: AbortSignal | undefined;
    let timeout: number | undefined;
    try {
      ({ weight, signal, timeout } = check.acquireOptions(options, this.#spec.permits));
    } catch (error) {
      return Promise.reject(error);
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    const closed = this.#loop.refusal();
    if (closed !== undefined) return Promise.reject(closed);
    if (timeout === 0) {
      return this.#attempt(weight).then(
        (permit) => permit ?? Promise.reject(this.#line.timeoutError({ weight, timeout })),
      );
    }
    const line = this.#line;
    const waiter = new RedisWaiter(this.#link.nextId(weight), weight, timeout, clock());
    const promise = park<RedisPermit, RedisWaiter>(line, waiter, signal, timeout);
    line.index(waiter);
    this.#link.call(['acquire', waiter.id, 'wait']).then(
      (reply) => {
        this.#leases.expire();
        this.#link.observe(reply);
        if (reply[3] !== 1) {
          if (waiter.linked) this.#loop.listen();
        } else if (!line.grant(waiter.id, waiter.sentAt, reply[4] as number)) {
          this.#loop.listen();
          this.#loop.recheck();
        }
      },
      (error: unknown) => {
        this.#leases.expire();
        // A reply error will not go away by asking again; a lost connection may: the poll
        // re-queues the waiter, and its timeout bounds the wait.
        if (!isReplyError(error) || !line.remove(waiter)) return;
        fail(waiter, redisError(this.#spec.who, 'acquire', error));
      },
    );
    this.#loop.start();
    return promise;
  }

  /**
   * Takes `weight` permits if they are free in Redis now and nobody waits (so it never jumps the
   * line); resolves `undefined` otherwise. Never queues, but waits for Redis to answer: it rejects
   * with a `TimeoutError` when Redis does not answer within `leaseMs / 3`, and with a `ClosedError`
   * when closed, and with a `LeaseLostError` when Redis granted the permits but its answer came
   * too late for the lease to be trusted (nothing is then held). A bad `weight` rejects at once.
   * Not named `tryAcquire`: a `tryX` answers at once, as `Semaphore.tryAcquire` does, and this one
   * cannot without asking Redis.
   */
  acquireIfFree(weight = 1): Promise<RedisPermit | undefined> {
    let w: number;
    try {
      w = check.weight(weight, 'weight', this.#spec.permits);
    } catch (error) {
      return Promise.reject(error);
    }
    const closed = this.#loop.refusal();
    return closed === undefined ? this.#attempt(w) : Promise.reject(closed);
  }

  /**
   * Acquires as {@link acquire} does, calls `fn` with the permit's `signal` (aborted if the lease
   * is lost), and releases when `fn`'s result settles. Resolves or rejects as `fn` does.
   * `timeout` and `signal` bound only the wait for permits: once `fn` has started, it is not
   * interrupted beyond its signal.
   */
  run<T>(fn: (signal: AbortSignal) => T | PromiseLike<T>, options?: AcquireOptions): Promise<Awaited<T>> {
    try {
      check.func(fn, 'fn');
    } catch (error) {
      return Promise.reject(error);
    }
    return this.acquire(options).then((permit) => {
      let result: T | PromiseLike<T>;
      try {
        result = fn(permit.signal);
      } catch (error) {
        permit.release();
        throw error;
      }
      return Promise.resolve(result).then(
        (value) => {
          permit.release();
          return value;
        },
        (error: unknown) => {
          permit.release();
          throw error;
        },
      );
    });
  }

  /**
   * What Redis says now, for dashboards and tests: permits in use and waiters queued across all
   * instances, and how many holders hold them. Lapsed leases are cleared first.
   */
  async inspect(): Promise<RedisSemaphoreState> {
    const reply = await this.#link.call(['peek']);
    this.#link.observe(reply);
    return { used: reply[0], queued: reply[1], holders: reply[3] as number };
  }

  /**
   * Stops this instance: its waiters reject with a `ClosedError` (and leave the line in Redis),
   * its held permits stop being refreshed and their signals abort with a `ClosedError` (release
   * them as usual; otherwise they lapse within `leaseMs`), releases made so far are sent, and its
   * subscriber connection is closed. Resolves when that connection has ended. From then on
   * `acquire`, `acquireIfFree` and `run` reject with a `ClosedError`, while a second `close()`
   * resolves as the first does. The client passed in stays open: close this first, then quit it.
   */
  close(): Promise<void> {
    return this.#loop.close();
  }

  /** Same as {@link close}, for `await using`. */
  [asyncDisposeSymbol](): Promise<void> {
    return this.close();
  }

  /** One attempt that never queues, bounded by a third of the lease. */
  #attempt(weight: number): Promise<RedisPermit | undefined> {
    const link = this.#link;
    const { who, permits, period } = this.#spec;
    const id = link.nextId(weight);
    const sentAt = clock();
    const noAnswer = () =>
      new TimeoutError(`${who} got no answer from Redis within ${period} ms (${count(permits, 'permit')})`);
    // On no answer the attempt may still be granted later: drop it, behind it on the same connection.
    return bound(link.call(['acquire', id, 'try']), undefined, period, noAnswer, () => link.drop(id)).then(
      (reply) => {
        const now = clock();
        this.#leases.expire(now);
        link.observe(reply);
        if (reply[3] !== 1) return undefined;
        const closed = this.#loop.refusal();
        if (closed !== undefined) {
          link.drop(id);
          throw closed;
        }
        if (!this.#leases.live(sentAt, now)) {
          // Stopped between the send and the reply: the grant may have lapsed, and this attempt
          // has no place in line to go back to.
          link.drop(id);
          const ms = Math.round(now - sentAt);
          throw leaseLost(
            who,
            `granted, but its answer came ${ms} ms after the request, leaseMs is ${this.leaseMs}`,
          );
        }
        const permit = this.#leases.take(id, weight, sentAt, reply[4] as number);
        this.#loop.start();
        return permit;
      },
      (error: unknown) => {
        this.#leases.expire();
        throw error instanceof TimeoutError ? error : redisError(who, 'acquireIfFree', error);
      },
    );
  }
}

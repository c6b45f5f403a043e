/**
 * One limit across many processes: a counting semaphore whose permits live in Redis.
 * `ioredis` is an optional peer dependency; pass your own client.
 * @module
 */

import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { asyncDisposeSymbol, disposeSymbol } from '../core/compat.js';
import { register } from '../core/live.js';
import { failureLine, reportFailure } from '../core/report.js';
import type { PrimitiveSnapshot, WaitLabel } from '../core/track.js';
import * as check from '../core/validate.js';
import { bound, fail, park, settle, Waiter } from '../core/wait.js';
import { WaiterList } from '../core/waiters.js';
import { ClosedError, LeaseLostError, TimeoutError, UnwedgeError } from '../errors.js';
import type { AcquireOptions, Permit, SemaphoreLike } from '../semaphore.js';
import { keysOf, LUA, SHA } from './scripts.js';

/** Options of {@link RedisSemaphore}. */
export interface RedisSemaphoreOptions {
  /** The semaphore's identity in Redis: every instance using the same `key` shares the permits. */
  key: string;
  /** How many permits exist across all instances; every instance must pass the same number. */
  permits: number;
  /** A permit is lost this many ms after its last refresh; refreshed every `leaseMs / 3`. Default 10,000. */
  leaseMs?: number;
  /** Shown in errors instead of the key, e.g. `"storage-chunks"`. */
  name?: string;
  /** Receives failures nobody awaits (a release Redis did not take). Default: stderr. */
  onError?: (error: unknown) => void;
}

const REDIS_SEMAPHORE_KEYS = ['key', 'permits', 'leaseMs', 'name', 'onError'] as const;

/**
 * Permits held from a {@link RedisSemaphore}, with a signal that says when they are no longer held.
 * `release()` never throws and never waits: it is sent at the end of the current tick (or with
 * this instance's next command); if Redis cannot take it, the lease lapses within `leaseMs`.
 */
export interface RedisPermit extends Permit {
  /**
   * Aborted with a `LeaseLostError` when the lease could not be refreshed or was found expired,
   * or with a `ClosedError` when the semaphore is closed: the permits may be someone else's now.
   */
  readonly signal: AbortSignal;
}

type Reply = [used: number, queued: number, hint: number, ...rest: Array<number | string>];

const clock = (): number => performance.now();

// Permits are returned only through a permit, never through a public method that could over-release.
let releasePermit: (semaphore: RedisSemaphore, permit: LeasedPermit) => void;

class LeasedPermit implements RedisPermit {
  released = false;
  // Created on first use: most permits are released without anyone reading their signal.
  private controller: AbortController | undefined = undefined;
  constructor(
    private readonly semaphore: RedisSemaphore,
    readonly id: string,
    readonly weight: number,
    /** When the last command that granted or refreshed the lease was sent (performance.now()). */
    public confirmedAt: number,
  ) {}

  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    return this.controller.signal;
  }

  abort(reason: Error): void {
    this.controller ??= new AbortController();
    this.controller.abort(reason);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    releasePermit(this.semaphore, this);
  }

  [disposeSymbol](): void {
    this.release();
  }
}

class RedisWaiter extends Waiter<RedisPermit> {
  constructor(
    readonly id: string,
    readonly weight: number,
    readonly timeout: number | undefined,
    readonly sentAt: number,
  ) {
    super();
  }
}

function waitWhat(w: RedisWaiter): string {
  return w.weight === 1 ? 'acquire 1 permit' : `acquire ${w.weight} permits`;
}

/** What {@link RedisSemaphore.inspect} reports, across every instance sharing the key. */
export interface RedisSemaphoreState {
  /** Permits held now. */
  used: number;
  /** Waiters in line. */
  queued: number;
  /** Holders (each may hold several permits). */
  holders: number;
}

/**
 * A counting semaphore shared by every process that uses the same Redis `key`: at most `permits`
 * are held across all of them. Waiters queue in Redis in strict FIFO order across instances; a
 * release wakes the next waiter through pub/sub (a second connection, `client.duplicate()`),
 * with a poll every `leaseMs / 3` as the fallback. Held permits are leases, refreshed every
 * `leaseMs / 3`: a process that dies loses its permits `leaseMs` after its last refresh, and a
 * holder that cannot refresh is told through its permit's `signal` — never re-acquired silently.
 *
 * Every instance of one key must use the same `permits` and `leaseMs`. Call {@link close} when done.
 *
 * @example
 * ```ts
 * import Redis from 'ioredis';
 * import { RedisSemaphore } from 'unwedge/redis';
 * const redis = new Redis();
 * const storage = new RedisSemaphore(redis, { key: 'storage-chunks', permits: 32 });
 * const body = await storage.run((signal) => fetch('http://127.0.0.1:9000/chunk/1', { signal }), {
 *   timeout: 5_000,
 * });
 * await storage.close(); // then the client: close() sends the releases still pending
 * await redis.quit();
 * ```
 */
export class RedisSemaphore implements SemaphoreLike, AsyncDisposable {
  /** The name given in the options, if any. */
  readonly name: string | undefined;
  /** The Redis key the permits live under. */
  readonly key: string;
  /** How many ms a lease lasts without a refresh. */
  readonly leaseMs: number;
  /** @internal */
  /** @internal */
  readonly waiters = new WaiterList<RedisWaiter>();
  private readonly total: number;
  private readonly client: Redis;
  private readonly keys: [string, string, string];
  private readonly channel: string;
  private readonly wakePrefix: string;
  private readonly instance = randomBytes(8).toString('hex');
  private readonly period: number;
  private readonly onError: ((error: unknown) => void) | undefined;
  private state: 'open' | 'closed' = 'open';
  private closing: Promise<void> | undefined;
  private sequence = 0;
  private readonly byId = new Map<string, RedisWaiter>();
  /** Ids to take out of Redis (released, timed out, aborted), sent with the next command. */
  private drops: string[] = [];
  private readonly leases = new Map<string, LeasedPermit>();
  private holding = 0;
  /** The refresh-and-poll timer; armed while anything is held or waited for. */
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** When the timer fires (performance.now()). */
  private due = 0;
  private active = false;
  private inFlight: number | undefined;
  private tickAgain = false;
  private subscriber: Redis | undefined;
  private seen = { used: 0, queued: 0 };

  /** @param client an ioredis client; the semaphore sends its scripts on it and never closes it. */
  constructor(client: Redis, options: RedisSemaphoreOptions) {
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
    this.total = check.integer(o.permits, 'options.permits', 1);
    this.leaseMs = o.leaseMs === undefined ? 10_000 : check.integer(o.leaseMs, 'options.leaseMs', 30);
    this.name = check.string(o.name, 'options.name');
    this.onError =
      o.onError === undefined
        ? undefined
        : check.func<(error: unknown) => void>(o.onError, 'options.onError');
    this.client = client;
    this.key = key;
    const { keys, wake } = keysOf(key);
    this.keys = keys;
    this.wakePrefix = wake;
    this.channel = wake + this.instance;
    this.period = Math.floor(this.leaseMs / 3);
    register(this, RedisSemaphore.snapshot);
  }

  /** What `inspect()` shows: the permits, what this instance holds, and its callers in line. */
  private static snapshot(s: RedisSemaphore): PrimitiveSnapshot {
    const waits = [];
    for (const w of s.waiters) waits.push({ key: w, what: waitWhat(w), since: w.since, timeout: w.timeout });
    const closed = s.state === 'closed' ? ', closed' : '';
    return {
      kind: 'redis-semaphore',
      name: s.name ?? s.key,
      summary:
        `${s.total} permit${s.total === 1 ? '' : 's'}; ${s.holding} held and ${s.waiters.length} waiting here; ` +
        `Redis last said ${s.seen.used} in use, ${s.seen.queued} waiting${closed}`,
      stats: {
        permits: s.total,
        held: s.holding,
        waiting: s.waiters.length,
        redisInUse: s.seen.used,
        redisWaiting: s.seen.queued,
        state: s.state,
      },
      waits,
    };
  }

  /** @internal How a parked caller is named in diagnostics_channel messages. */
  describeWait(w: RedisWaiter): WaitLabel {
    return { kind: 'redis-semaphore', name: this.name ?? this.key, what: waitWhat(w), timeout: w.timeout };
  }

  /** How many permits exist across all instances. */
  get permits(): number {
    return this.total;
  }

  /** How many permits this instance holds now. */
  get held(): number {
    return this.holding;
  }

  /** How many callers of this instance wait in line (the line itself is in Redis, shared). */
  get waiting(): number {
    return this.waiters.length;
  }

  /**
   * Waits until `weight` permits are free in Redis and every earlier waiter of every instance has
   * been served, then resolves with a {@link RedisPermit}. The wait ends early with a
   * `TimeoutError` after `timeout` ms (round trips to Redis included), with exactly
   * `signal.reason` when `signal` aborts, or with a `ClosedError` when the semaphore is closed or
   * its client has ended; in every such case no permit is kept. While Redis is unreachable the wait
   * goes on until one of those. `timeout: 0` makes one attempt and never queues.
   */
  acquire(options?: AcquireOptions): Promise<RedisPermit> {
    let weight: number;
    let signal: AbortSignal | undefined;
    let timeout: number | undefined;
    try {
      ({ weight, signal, timeout } = check.acquireOptions(options, this.total));
    } catch (error) {
      return Promise.reject(error);
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    const closed = this.#closedError();
    if (closed !== undefined) return Promise.reject(closed);
    if (timeout === 0) {
      return this.#attempt(weight).then(
        (permit) => permit ?? Promise.reject(this.timeoutError({ weight, timeout })),
      );
    }
    const waiter = new RedisWaiter(this.#nextId(weight), weight, timeout, clock());
    const promise = park<RedisPermit, RedisWaiter>(this, waiter, signal, timeout);
    this.byId.set(waiter.id, waiter);
    this.#call(['acquire', waiter.id, 'wait']).then(
      (reply) => {
        this.#observe(reply);
        if (reply[3] === 1) this.#grant(waiter.id, waiter.sentAt);
        else if (waiter.linked) this.#subscribe();
      },
      (error: unknown) => {
        // A reply error will not go away by asking again; a lost connection may: the poll
        // re-queues the waiter, and its timeout bounds the wait.
        if (!isReplyError(error) || !this.waiters.remove(waiter)) return;
        this.byId.delete(waiter.id);
        fail(waiter, this.#redisError('acquire', error));
      },
    );
    this.#activate();
    return promise;
  }

  /**
   * Takes `weight` permits if they are free in Redis now and nobody waits (so it never jumps the
   * line); resolves `undefined` otherwise. Never queues. Unlike `Semaphore.tryAcquire` it must ask
   * Redis, so it returns a promise: it rejects with a `TimeoutError` when Redis does not answer
   * within `leaseMs / 3`, and with a `ClosedError` when closed. A bad `weight` rejects at once.
   */
  tryAcquire(weight = 1): Promise<RedisPermit | undefined> {
    let w: number;
    try {
      w = check.weight(weight, 'weight', this.total);
    } catch (error) {
      return Promise.reject(error);
    }
    const closed = this.#closedError();
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
    const reply = await this.#call(['peek']);
    this.#observe(reply);
    return { used: reply[0], queued: reply[1], holders: reply[3] as number };
  }

  /**
   * Stops this instance: its waiters reject with a `ClosedError` (and leave the line in Redis),
   * its held permits stop being refreshed and their signals abort with a `ClosedError` (release
   * them as usual; otherwise they lapse within `leaseMs`), releases made so far are sent, and its
   * subscriber connection is closed. Resolves when that connection has ended. Later calls reject
   * with a `ClosedError`. Idempotent; the client passed in stays open: close this first, then it.
   */
  close(): Promise<void> {
    if (this.state === 'closed') return this.closing!;
    this.state = 'closed';
    for (const waiter of this.waiters.drain()) {
      fail(waiter, new ClosedError(`${this.who} was closed while waiting for a permit`));
      this.#drop(waiter.id);
    }
    this.byId.clear();
    this.#loseAll(
      () =>
        new ClosedError(
          `${this.who} was closed: the permit is no longer refreshed and lapses in ${this.leaseMs} ms`,
        ),
    );
    this.#deactivate();
    this.#flush(); // releases made before close() are sent before it resolves
    this.closing = this.#stopSubscriber();
    return this.closing;
  }

  /** Same as {@link close}, for `await using`. */
  [asyncDisposeSymbol](): Promise<void> {
    return this.close();
  }

  static {
    releasePermit = (semaphore, permit) => semaphore.#release(permit);
  }

  // --- waiting -------------------------------------------------------------------------------

  /** @internal */
  timeoutError(waiter: { weight: number; timeout: number | undefined }): TimeoutError {
    const what = waiter.weight === 1 ? 'permit' : `${waiter.weight} permits`;
    const state = `${this.total} permits; Redis last said ${this.seen.used} in use, ${this.seen.queued} waiting`;
    const link = this.client.status === 'ready' ? '' : `; the Redis connection is ${this.client.status}`;
    return new TimeoutError(`${this.who} gave no ${what} within ${waiter.timeout} ms (${state}${link})`);
  }

  /** @internal A waiter timed out or was aborted: take it out of the line in Redis too. */
  onLeave(waiter: RedisWaiter): void {
    this.byId.delete(waiter.id);
    this.#drop(waiter.id);
  }

  /** Hands the permit granted to waiter `id` to it, or back to Redis if the waiter has gone. */
  #grant(id: string, confirmedAt: number): void {
    const waiter = this.byId.get(id);
    if (waiter === undefined) return; // already served, or it left and its drop is on its way
    this.byId.delete(id);
    // Still in line: an abort or timeout takes the waiter out of line (and out of byId) in the
    // same synchronous step, so a waiter found here has not gone.
    this.waiters.remove(waiter);
    const permit = new LeasedPermit(this, id, waiter.weight, confirmedAt);
    this.#hold(permit);
    settle(waiter, permit);
  }

  /** One attempt that never queues, bounded by a third of the lease. */
  #attempt(weight: number): Promise<RedisPermit | undefined> {
    const id = this.#nextId(weight);
    const sentAt = clock();
    const noAnswer = () =>
      new TimeoutError(
        `${this.who} got no answer from Redis within ${this.period} ms (${this.total} permits)`,
      );
    // On no answer the attempt may still be granted later: drop it, behind it on the same connection.
    return bound(this.#call(['acquire', id, 'try']), undefined, this.period, noAnswer, () =>
      this.#drop(id),
    ).then(
      (reply) => {
        this.#observe(reply);
        if (reply[3] !== 1) return undefined;
        const closed = this.#closedError();
        if (closed !== undefined) {
          this.#drop(id);
          throw closed;
        }
        const permit = new LeasedPermit(this, id, weight, sentAt);
        this.#hold(permit);
        this.#activate();
        return permit;
      },
      (error: unknown) => {
        throw error instanceof TimeoutError ? error : this.#redisError('tryAcquire', error);
      },
    );
  }

  #hold(permit: LeasedPermit): void {
    this.leases.set(permit.id, permit);
    this.holding += permit.weight;
  }

  #release(permit: LeasedPermit): void {
    if (this.leases.get(permit.id) === permit) {
      this.leases.delete(permit.id);
      this.holding -= permit.weight;
    }
    this.#drop(permit.id);
  }

  /** The lease of held `permit` is gone: tell its holder. Its release() still tells Redis. */
  #lose(permit: LeasedPermit, reason: Error): void {
    this.leases.delete(permit.id);
    this.holding -= permit.weight;
    permit.abort(reason);
  }

  #loseAll(reason: () => Error): void {
    for (const permit of [...this.leases.values()]) this.#lose(permit, reason());
  }

  // --- the refresh-and-poll loop ---------------------------------------------------------------
  // One timer and at most one command in flight per instance, however many permits it holds and
  // callers it has waiting: each tick refreshes every held lease, heartbeats every waiter (and
  // re-queues one Redis no longer knows, e.g. after a restart) and collects grants whose pub/sub
  // message was missed.

  #activate(): void {
    if (this.active) return;
    this.active = true;
    this.client.on('end', this.#onClientEnd);
    this.#schedule(this.period);
  }

  #deactivate(): void {
    if (!this.active) return;
    this.active = false;
    this.client.off('end', this.#onClientEnd);
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * Stops the loop once nothing is held or waited for. Called from the loop itself, not on every
   * release: a semaphore used in a tight loop keeps one timer rather than arming one per permit.
   */
  #settleDown(): void {
    if (this.leases.size === 0 && this.waiters.length === 0) this.#deactivate();
  }

  #schedule(ms: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    // Unref'd: the client's own connection keeps a process alive while it is open, not this timer.
    this.timer = setTimeout(this.#tick, ms);
    this.timer.unref();
    this.due = clock() + ms;
  }

  /**
   * Someone's lease or heartbeat lapses `hint` ms from now, before the next regular tick: look
   * again just after it, so that permits of a dead instance reach the line within leaseMs rather
   * than leaseMs * 4/3. Only for waiters; never sooner than 10 ms apart.
   */
  #lookAfter(hint: number): void {
    if (hint < 0 || hint >= this.period || this.waiters.length === 0) return;
    const ms = Math.max(hint + 2, 10);
    if (this.due > clock() + ms) this.#schedule(ms);
  }

  /** Runs a tick as soon as the one in flight (if any) has answered. */
  #tickSoon(): void {
    if (!this.active) return;
    if (this.inFlight === undefined) this.#schedule(0);
    else this.tickAgain = true;
  }

  readonly #tick = (): void => {
    this.timer = undefined;
    this.#settleDown();
    if (!this.active) return;
    this.#schedule(this.period);
    const now = clock();
    if (this.inFlight !== undefined) {
      // The last tick has had a whole period without an answer, so any lease may lapse before the
      // connection (where refreshes queue behind it) says more. Tell every holder now.
      const waited = Math.round(now - this.inFlight);
      this.#loseAll(() => this.#leaseLost(`Redis did not answer a refresh within ${waited} ms`));
      this.#settleDown();
      return;
    }
    const heldIds = [...this.leases.keys()];
    const args: Array<string | number> = ['tick', heldIds.length, ...heldIds];
    for (const waiter of this.waiters) args.push(waiter.id);
    this.inFlight = now;
    this.#call(args).then(
      (reply) => this.#onTick(reply, heldIds, now),
      (error: unknown) => {
        this.inFlight = undefined;
        for (const id of heldIds) {
          const permit = this.leases.get(id);
          if (permit !== undefined) this.#lose(permit, this.#leaseLost(String(error), error));
        }
        this.#afterTick(-1);
      },
    );
  };

  #onTick(reply: Reply, heldIds: string[], sentAt: number): void {
    this.inFlight = undefined;
    this.#observe(reply);
    const granted = reply[3] as number;
    const lost = new Set(reply.slice(4 + granted) as string[]);
    for (const id of heldIds) {
      const permit = this.leases.get(id);
      if (permit === undefined) continue;
      if (lost.has(id)) {
        this.#lose(permit, this.#leaseLost(`the lease was found expired (leaseMs ${this.leaseMs})`));
      } else {
        permit.confirmedAt = sentAt;
      }
    }
    for (const id of reply.slice(4, 4 + granted) as string[]) this.#grant(id, sentAt);
    this.#afterTick(reply[2]);
  }

  #afterTick(hint: number): void {
    this.#settleDown();
    if (!this.active) return;
    if (this.tickAgain) {
      this.tickAgain = false;
      this.#schedule(0);
    } else {
      this.#lookAfter(hint);
    }
  }

  readonly #onClientEnd = (): void => {
    const reason = () => new ClosedError(`${this.who} cannot be served: its Redis client has ended`);
    for (const waiter of this.waiters.drain()) fail(waiter, reason());
    this.byId.clear();
    this.drops = [];
    this.#loseAll(() => this.#leaseLost('its Redis client has ended'));
    this.#deactivate();
    void this.#stopSubscriber();
  };

  // --- pub/sub ---------------------------------------------------------------------------------

  /** Subscribes this instance's wake channel once, then polls once for grants sent before that. */
  #subscribe(): void {
    if (this.subscriber !== undefined || this.state !== 'open' || this.client.status === 'end') return;
    // A short disconnectTimeout: ioredis arms it on every disconnect and clears it only when the
    // socket closes, which a socket closed before (mid-reconnect, failed ready check) never does.
    const subscriber = this.client.duplicate({ disconnectTimeout: 100 });
    this.subscriber = subscriber;
    // Connection errors are the client's to report; the poll covers wake-ups missed meanwhile.
    subscriber.on('error', ignore);
    subscriber.on('message', this.#onMessage);
    subscriber.on('ready', this.#onSubscriberReady);
    subscriber.subscribe(this.channel).then(
      () => this.#tickSoon(),
      () => {
        if (this.subscriber === subscriber) void this.#stopSubscriber(); // try again at the next wait
      },
    );
  }

  readonly #onMessage = (_channel: string, id: string): void => this.#grant(id, clock());

  /** After a reconnect (maybe to a restarted Redis that forgot the line), re-queue at once. */
  readonly #onSubscriberReady = (): void => this.#tickSoon();

  #stopSubscriber(): Promise<void> {
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    if (subscriber === undefined) return Promise.resolve();
    subscriber.off('message', this.#onMessage);
    subscriber.off('ready', this.#onSubscriberReady);
    switch (subscriber.status) {
      case 'end':
        return Promise.resolve();
      case 'reconnecting':
        // No socket to wait for; ioredis emits no 'end' when stopped between reconnections.
        subscriber.disconnect();
        return Promise.resolve();
      default:
        return new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 1_000);
          subscriber.once('end', () => {
            clearTimeout(timer);
            resolve();
          });
          subscriber.disconnect();
        });
    }
  }

  // --- Redis -----------------------------------------------------------------------------------

  /** Runs the script: EVALSHA, and EVAL once when Redis does not have it (first use, restart). */
  #call(args: Array<string | number>): Promise<Reply> {
    const { client, keys } = this;
    const drops = this.drops;
    if (drops.length > 0) this.drops = [];
    const argv = [
      keys[0],
      keys[1],
      keys[2],
      args[0]!,
      this.total,
      this.leaseMs,
      this.wakePrefix,
      drops.length,
    ];
    for (const id of drops) argv.push(id);
    for (let i = 1; i < args.length; i++) argv.push(args[i]!);
    const reply = client.evalsha(SHA, 3, ...argv).catch((error: unknown) => {
      if (isReplyError(error) && String((error as Error).message).startsWith('NOSCRIPT')) {
        return client.eval(LUA, 3, ...argv);
      }
      throw error;
    }) as Promise<Reply>;
    if (drops.length > 0) {
      reply.then(undefined, (error: unknown) => {
        const failure = this.#redisError(`releasing ${drops.join(', ')}`, error);
        const onError = this.onError;
        reportFailure(
          { kind: 'redis', name: this.name, task: undefined, who: this.who },
          failure,
          onError === undefined ? undefined : () => onError(failure),
          () => failureLine(this.who, failure),
        );
      });
    }
    return reply;
  }

  /**
   * Takes `id` out of the holders or out of the line, best effort (a lapse does it otherwise).
   * Sent at the end of the current tick, or sooner with any command this instance sends meanwhile
   * (the next acquire of a loop, another release): a release then costs no round trip of its own,
   * and since every command carries all pending drops, none is overtaken by a later call.
   */
  #drop(id: string): void {
    if (this.client.status === 'end') return;
    this.drops.push(id);
    if (this.drops.length === 1) process.nextTick(this.#flush);
  }

  readonly #flush = (): void => {
    if (this.drops.length > 0) this.#call(['drop']).then(undefined, ignore); // failures: reported in call()
  };

  #observe(reply: Reply): void {
    this.seen.used = reply[0];
    this.seen.queued = reply[1];
  }

  // --- small helpers ---------------------------------------------------------------------------

  private get who(): string {
    return `semaphore ${JSON.stringify(this.name ?? this.key)}`;
  }

  /** `<instance>:<sequence>:<weight>`: the script reads the weight and the wake channel from it. */
  #nextId(weight: number): string {
    return `${this.instance}:${++this.sequence}:${weight}`;
  }

  #closedError(): ClosedError | undefined {
    if (this.state === 'closed') return new ClosedError(`${this.who} is closed`);
    if (this.client.status !== 'end') return undefined;
    return new ClosedError(`${this.who} cannot be served: its Redis client has ended`);
  }

  #leaseLost(why: string, cause?: unknown): LeaseLostError {
    const message = `${this.who} lost a permit: its lease could not be kept (${why})`;
    return new LeaseLostError(message, cause === undefined ? undefined : { cause });
  }

  #redisError(what: string, cause: unknown): UnwedgeError {
    return new UnwedgeError(`${this.who}: Redis failed ${what}: ${String(cause)}`, { cause });
  }
}

function isReplyError(error: unknown): boolean {
  return (error as Error | undefined)?.name === 'ReplyError';
}

function ignore(): void {}

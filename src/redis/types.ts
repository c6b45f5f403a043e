// What a RedisSemaphore takes and gives: its options, the RedisPermit it hands out, and the
// state inspect() reads from Redis. The class is semaphore.ts.
import type { Cluster, Redis } from 'ioredis';
import type { Permit } from '../semaphore/semaphore.js';

/**
 * The ioredis client a `RedisSemaphore` is given: a `Redis`, or a `Cluster` (all of a semaphore's
 * keys share one slot, so its script runs on one master; docs/redis.md, "Redis Cluster").
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { type RedisClient, RedisSemaphore } from 'unwedge/redis';
 * // or a Cluster: new Cluster([{ host: '127.0.0.1', port: 7000 }])
 * const client: RedisClient = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
 * const reports = new RedisSemaphore(client, { key: 'example:reports', permits: 1 });
 * console.log(reports.permits); // → 1
 * await reports.close();
 * await client.quit();
 * ```
 */
export type RedisClient = Redis | Cluster;

/**
 * Options of {@link RedisSemaphore}.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { RedisSemaphore, type RedisSemaphoreOptions } from 'unwedge/redis';
 * const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
 * const options: RedisSemaphoreOptions = {
 *   key: 'example:storage-chunks', // every instance with this key shares the permits
 *   permits: 32, // across all of them; every instance passes the same number
 *   leaseMs: 10_000, // a dead holder's permits come back 10 s after its last refresh
 *   name: 'storage-chunks',
 *   onError: (error) => console.error('a release Redis did not take', error),
 * };
 * const storage = new RedisSemaphore(redis, options);
 * console.log(storage.permits, storage.key); // → 32 example:storage-chunks
 * await storage.close();
 * await redis.quit();
 * ```
 */
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

/** @internal The keys of {@link RedisSemaphoreOptions}: any other is a TypeError. */
export const REDIS_SEMAPHORE_KEYS = ['key', 'permits', 'leaseMs', 'name', 'onError'] as const;

/**
 * Permits held from a {@link RedisSemaphore}, with a signal that says when they are no longer held.
 * `release()` never throws and never waits: it is sent at the end of the current tick (or with
 * this instance's next command); if Redis cannot take it, the lease lapses within `leaseMs`.
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { Redis } from 'ioredis';
 * import { type RedisPermit, RedisSemaphore } from 'unwedge/redis';
 * const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
 * const exportJobs = new RedisSemaphore(redis, { key: 'example:exports', permits: 2 });
 * const permit: RedisPermit = await exportJobs.acquire({ weight: 2, timeout: 5_000 });
 * try {
 *   await sleep(10, undefined, { signal: permit.signal }); // stops if the lease is lost
 * } finally {
 *   permit.release();
 * }
 * await exportJobs.close();
 * await redis.quit();
 * ```
 */
export interface RedisPermit extends Permit {
  /**
   * Aborted with a `LeaseLostError` when the lease could not be refreshed, was found expired, or
   * lapsed by this process's own clock (`leaseMs` after the last command Redis confirmed it with
   * was sent, less 1 % + 2 ms), or with a `ClosedError` when the semaphore is closed: the permits
   * may be someone else's now. After a pause of the process longer than the lease, the first
   * callback of this semaphore that runs aborts it; a callback of yours that was already due may
   * run before it, which is what {@link fence} is for.
   */
  readonly signal: AbortSignal;
  /**
   * The fencing token of this grant: a number that strictly increases with every grant of this
   * `key`, across every instance and every restart of the clients (an `INCR` in Redis, in the
   * script that hands the grant over). Send it with every write the permit guards, and have the
   * store refuse a write whose fence is lower than the highest it has accepted: a holder paused
   * past its lease (a GC pause, a stopped container) can then no longer overwrite the work of the
   * holder that came after it. It survives a restart of Redis only with persistence (AOF or RDB
   * snapshots); without it the count starts again at 1 and such a store refuses every write.
   *
   * @example
   * ```ts
   * import { Redis } from 'ioredis';
   * import { RedisSemaphore } from 'unwedge/redis';
   * const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
   * const ledger = new RedisSemaphore(redis, { key: 'example:ledger', permits: 1 });
   * let highest = 0; // what the store keeps: the highest fence it has accepted
   * const write = (fence: number) => {
   *   if (fence < highest) return 'refused: a later holder has written';
   *   highest = fence;
   *   return 'written';
   * };
   * const first = await ledger.acquire();
   * first.release();
   * const second = await ledger.acquire();
   * console.log(second.fence > first.fence); // → true
   * console.log(write(second.fence)); // → written
   * console.log(write(first.fence)); // → refused: a later holder has written
   * second.release();
   * await ledger.close();
   * await redis.quit();
   * ```
   */
  readonly fence: number;
}

/**
 * What {@link RedisSemaphore.inspect} reports, across every instance sharing the key.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { RedisSemaphore, type RedisSemaphoreState } from 'unwedge/redis';
 * const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
 * const reports = new RedisSemaphore(redis, { key: 'example:reports', permits: 4 });
 * const permit = await reports.acquire({ weight: 3 });
 * const state: RedisSemaphoreState = await reports.inspect();
 * console.log(state); // → { used: 3, queued: 0, holders: 1 }
 * permit.release();
 * await reports.close();
 * await redis.quit();
 * ```
 */
export interface RedisSemaphoreState {
  /** Permits held now. */
  used: number;
  /** Waiters in line. */
  queued: number;
  /** Holders (each may hold several permits). */
  holders: number;
}

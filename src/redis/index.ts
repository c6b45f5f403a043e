/**
 * One limit across many processes: a counting semaphore whose permits live in Redis, the
 * {@link RedisSemaphore}. `ioredis` (5.x) is an optional peer dependency: pass your own client (a `Redis` or a `Cluster`),
 * and quit it yourself after {@link RedisSemaphore.close}.
 *
 * @module unwedge/redis
 */

export { RedisSemaphore } from './semaphore.js';
export type { RedisClient, RedisPermit, RedisSemaphoreOptions, RedisSemaphoreState } from './types.js';

/**
 * One limit across many processes: a counting semaphore whose permits live in Redis.
 * `ioredis` is an optional peer dependency; pass your own client.
 * @module
 */

export {
  type RedisPermit,
  RedisSemaphore,
  type RedisSemaphoreOptions,
  type RedisSemaphoreState,
} from './semaphore.js';

// The Lua script of RedisSemaphore (src/redis/scripts.ts) called directly, for what no instance can
// be made to do on cue: a grant left unclaimed, an acquire resent after its grant, a lapse seen by
// another instance's call. Instances here are just id prefixes.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { keysOf, LUA } from '../../src/redis/scripts.js';
import { type RedisServer, startRedis } from './server.js';

const LEASE = 3_000;
const CLAIM = 200;
let server: RedisServer;
let redis: Redis;
let keys = 0;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.port, '127.0.0.1');
});
afterAll(async () => {
  await redis?.quit();
  await server?.destroy();
});

/** One semaphore key of `permits`, and its script called as an instance would call it. */
function semaphore(permits: number) {
  const { keys: k, wake } = keysOf(`script-${++keys}`);
  const call = (op: string, drops: string[], ...args: Array<string | number>) =>
    redis.eval(LUA, 4, ...k, op, permits, LEASE, CLAIM, wake, drops.length, ...drops, ...args) as Promise<
      Array<number | string>
    >;
  /** How many ms from Redis's now the entry `id` of the holders expires; null if none. */
  const expiresIn = async (id: string): Promise<number | null> => {
    const [[, time], [, score]] = (await redis.multi().time().zscore(k[0], id).exec()) as [
      [null, [string, string]],
      [null, string | null],
    ];
    if (score === null) return null;
    return Number(score) - (Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000));
  };
  const queue = () => redis.zrange(k[1], 0, -1);
  return { call, expiresIn, queue };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("a queued waiter's grant is held for the claim window; its claim makes it a lease", async () => {
  const s = semaphore(1);
  expect((await s.call('acquire', [], 'a:1:1', 'wait'))[3]).toBe(1);
  expect((await s.call('acquire', [], 'b:1:1', 'wait'))[3]).toBe(0); // queued
  await s.call('drop', ['a:1:1']); // the release grants b's waiter
  const window = await s.expiresIn('b:1:1');
  expect(window).toBeGreaterThan(CLAIM - 20);
  expect(window).toBeLessThanOrEqual(CLAIM);
  const claimed = await s.call('claim', [], 'b:1:1');
  expect(claimed.slice(3, 5)).toEqual([1, 'b:1:1']);
  expect(await s.expiresIn('b:1:1')).toBeGreaterThan(LEASE - 20);
});

test('an acquire resent after its waiter was granted claims the grant: its lease runs from the reply', async () => {
  const s = semaphore(1);
  await s.call('acquire', [], 'a:1:1', 'wait');
  await s.call('acquire', [], 'b:1:1', 'wait');
  await s.call('drop', ['a:1:1']);
  const resent = await s.call('acquire', [], 'b:1:1', 'wait');
  expect(resent[3]).toBe(1);
  expect(await s.expiresIn('b:1:1')).toBeGreaterThan(LEASE - 20);
});

test('an acquire resent after its grant lapsed unclaimed is not granted on the strength of it', async () => {
  const s = semaphore(1);
  await s.call('acquire', [], 'a:1:1', 'wait');
  await s.call('acquire', [], 'b:1:1', 'wait');
  await s.call('acquire', [], 'c:1:1', 'wait');
  await s.call('drop', ['a:1:1']); // granted to b, unclaimed
  await sleep(CLAIM + 20);
  // Lapsed: b is asked anew, behind c, who is served first.
  const resent = await s.call('acquire', [], 'b:1:1', 'wait');
  expect(resent[3]).toBe(0);
  expect(await s.expiresIn('c:1:1')).not.toBeNull();
  expect(await s.queue()).toEqual(['b:1:1']);
});

test("a lapse takes every waiter of the lapsed grant's instance out of the line, and no other", async () => {
  const s = semaphore(1);
  await s.call('acquire', [], 'a:1:1', 'wait');
  for (const id of ['dead:1:1', 'b:1:1', 'dead:2:1', 'dead:3:1', 'b:2:1']) {
    await s.call('acquire', [], id, 'wait');
  }
  await s.call('drop', ['a:1:1']); // granted to dead:1, which never claims it
  await sleep(CLAIM + 20);
  const tick = await s.call('tick', [], 0, 'b:1:1', 'b:2:1'); // b's heartbeat sees the lapse
  expect(tick.slice(3, 5)).toEqual([1, 'b:1:1']); // b:1 granted and claimed in the same call
  expect(await s.queue()).toEqual(['b:2:1']);
  expect(await s.expiresIn('dead:1:1')).toBeNull();
});

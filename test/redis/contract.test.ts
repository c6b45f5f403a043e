// The semaphore contract, run against the in-process Semaphore and against RedisSemaphore on a
// real redis-server: the same calls give the same results, and bad input the same errors.
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { RedisSemaphore } from '../../src/redis/index.js';
import { Semaphore } from '../../src/semaphore/semaphore.js';
import { type MakeSubject, semaphoreContract } from './contract.js';
import { type RedisServer, startRedis } from './server.js';

let server: RedisServer;
let client: Redis;
const opened: RedisSemaphore[] = [];
let keys = 0;

beforeAll(async () => {
  server = await startRedis();
  client = new Redis(server.port, '127.0.0.1');
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await client?.quit();
  await server?.destroy();
});

const inProcess: MakeSubject = (permits, options) => {
  const sem = new Semaphore(permits, options);
  return {
    acquire: (o) => sem.acquire(o),
    acquireIfFree: async (weight) => sem.tryAcquire(weight),
    run: (fn, o) => sem.run(fn, o),
    state: async () => {
      await new Promise((resolve) => setImmediate(resolve));
      return { used: sem.permits - sem.available, queued: sem.waiting };
    },
  };
};

const inRedis: MakeSubject = (permits, options) => {
  const sem = new RedisSemaphore(client, { key: `contract-${++keys}`, permits, name: options?.name });
  opened.push(sem);
  return {
    acquire: (o) => sem.acquire(o),
    acquireIfFree: (weight) => sem.acquireIfFree(weight),
    run: (fn, o) => sem.run(() => fn(), o),
    state: async () => {
      const { used, queued } = await sem.inspect();
      return { used, queued };
    },
  };
};

describe('Semaphore', () => semaphoreContract(inProcess));
describe('RedisSemaphore', () => semaphoreContract(inRedis));

/** Semaphore's `tryAcquire` and its RedisSemaphore counterpart, which must ask Redis. */
const ifFree = (s: Semaphore | RedisSemaphore, weight: number) =>
  s instanceof Semaphore ? s.tryAcquire(weight) : s.acquireIfFree(weight);

describe('bad input is refused as Semaphore refuses it, before any round trip', () => {
  const bad: Array<[string, (sem: Semaphore | RedisSemaphore) => unknown]> = [
    ['weight 0', (s) => s.acquire({ weight: 0 })],
    ['weight 1.5', (s) => s.acquire({ weight: 1.5 })],
    ['weight "1"', (s) => s.acquire({ weight: '1' as unknown as number })],
    ['weight > permits', (s) => s.acquire({ weight: 3 })],
    ['weight NaN', (s) => s.acquire({ weight: Number.NaN })],
    ['timeout -1', (s) => s.acquire({ timeout: -1 })],
    ['timeout "5"', (s) => s.acquire({ timeout: '5' as unknown as number })],
    ['signal not a signal', (s) => s.acquire({ signal: {} as AbortSignal })],
    ['options null', (s) => s.acquire(null as unknown as undefined)],
    ['options a number', (s) => s.acquire(5 as unknown as undefined)],
    ['run without a function', (s) => s.run(42 as unknown as () => void)],
    ['run with weight > permits', (s) => s.run(() => 1, { weight: 3 })],
    ['tryAcquire(0) / acquireIfFree(0)', (s) => ifFree(s, 0)],
    ['tryAcquire(3) / acquireIfFree(3) > permits', (s) => ifFree(s, 3)],
    ['tryAcquire(1.5) / acquireIfFree(1.5)', (s) => ifFree(s, 1.5)],
  ];

  test.each(bad)('%s: same error class and message, at once', async (_label, call) => {
    const local = new Semaphore(2);
    const shared = new RedisSemaphore(client, { key: 'bad-input', permits: 2 });
    opened.push(shared);
    let expected: unknown;
    try {
      await call(local);
    } catch (error) {
      expected = error;
    }
    expect(expected).toBeInstanceOf(Error);
    const result = call(shared);
    expect(result).toBeInstanceOf(Promise); // async methods never throw synchronously
    const error = await (result as Promise<unknown>).then(
      () => expect.fail('accepted'),
      (e: unknown) => e as Error,
    );
    expect(error.constructor).toBe((expected as Error).constructor);
    expect(error.message).toBe((expected as Error).message);
    expect((await shared.inspect()).used).toBe(0);
  });

  test('a weight larger than the permits is a RangeError naming both', async () => {
    const shared = new RedisSemaphore(client, { key: 'bad-input', permits: 8 });
    opened.push(shared);
    await expect(shared.acquire({ weight: 9 })).rejects.toThrow(
      new RangeError("options.weight must be <= the semaphore's 8 permits; received 9"),
    );
  });
});

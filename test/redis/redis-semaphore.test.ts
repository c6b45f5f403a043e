// What RedisSemaphore adds to the contract: one line across instances, pub/sub wake-ups with a
// poll behind them, leases that are refreshed while held and reported when lost, and a client
// whose connection ends. All against a real redis-server.
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { ClosedError, LeaseLostError, TimeoutError, UnwedgeError } from '../../src/errors.js';
import { fanOut } from '../../src/fan-out/fan-out.js';
import { inspect } from '../../src/inspect/index.js';
import { type RedisPermit, RedisSemaphore, type RedisSemaphoreOptions } from '../../src/redis/index.js';
import { keysOf } from '../../src/redis/scripts.js';
import { within } from './contract.js';
import { type RedisServer, startRedis } from './server.js';

let server: RedisServer;
let admin: Redis;
const clients: Redis[] = [];
const opened: RedisSemaphore[] = [];
let keys = 0;

beforeAll(async () => {
  server = await startRedis();
  admin = connect();
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
  await Promise.all(clients.splice(1).map((c) => (c.status === 'end' ? undefined : c.quit())));
});
afterAll(async () => {
  await Promise.all(clients.splice(0).map((c) => (c.status === 'end' ? undefined : c.quit())));
  await server?.destroy();
});

function connect(): Redis {
  const client = new Redis(server.port, '127.0.0.1');
  clients.push(client);
  return client;
}

function semaphore(client: Redis, options: Partial<RedisSemaphoreOptions> & { key: string }) {
  const sem = new RedisSemaphore(client, { permits: 1, ...options });
  opened.push(sem);
  return sem;
}

const nextKey = () => `sem-${++keys}`;

/** Resolves with the reason once `signal` aborts (bounded by the caller's `within`). */
const aborted = (signal: AbortSignal) =>
  signal.aborted
    ? Promise.resolve(signal.reason as unknown)
    : once(signal, 'abort').then(() => signal.reason as unknown);

describe('one line across instances', () => {
  test('a waiter in another instance is woken by pub/sub at once, not by the poll', async () => {
    const key = nextKey();
    // A 30 s lease: an instance with callers waiting polls every min(10 s, 1 s) = 1 s, so only the
    // wake-up message can serve the waiter within 500 ms.
    const a = semaphore(connect(), { key, leaseMs: 30_000 });
    const b = semaphore(connect(), { key, leaseMs: 30_000 });
    const held = await a.acquire();
    const waiting = b.acquire();
    expect((await b.inspect()).queued).toBe(1); // b's own connection: its acquire has reached Redis
    const released = performance.now();
    held.release();
    const permit = await within(waiting, 1_000, 'woken waiter');
    expect(performance.now() - released).toBeLessThan(500);
    expect(b.held).toBe(1);
    permit.release();
  });

  test('waiters of two instances are served in the order they queued, whichever instance releases', async () => {
    const key = nextKey();
    const a = semaphore(connect(), { key, permits: 2 });
    const b = semaphore(connect(), { key, permits: 2 });
    const held = await a.acquire({ weight: 2 });
    const order: string[] = [];
    const waits: Promise<void>[] = [];
    for (const [i, sem] of [a, b, b, a, b].entries()) {
      waits.push(
        sem.acquire({ weight: i === 2 || i === 3 ? 2 : 1 }).then((p) => {
          order.push(`${i}`);
          p.release();
        }),
      );
      await sem.inspect(); // queued before the next one asks
    }
    expect((await a.inspect()).queued).toBe(5);
    held.release();
    await within(Promise.all(waits), 3_000, 'five waiters');
    expect(order.slice(0, 2).sort()).toEqual(['0', '1']); // served together: 2 permits
    expect(order.slice(2)).toEqual(['2', '3', '4']);
    await b.inspect(); // b's releases have reached Redis
    expect(await a.inspect()).toEqual({ used: 0, queued: 0, holders: 0 });
  });

  test('a waiter whose wake-up message is lost is served by the poll within leaseMs / 3', async () => {
    const key = nextKey();
    const client = connect();
    // The subscriber connection cannot connect: no wake-up message ever arrives.
    const dead = new Redis(1, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null });
    dead.on('error', () => {});
    client.duplicate = () => dead;
    const a = semaphore(connect(), { key, leaseMs: 600 });
    const b = semaphore(client, { key, leaseMs: 600 });
    const held = await a.acquire();
    const waiting = b.acquire({ timeout: 2_000 });
    await b.inspect();
    const released = performance.now();
    held.release();
    const permit = await within(waiting, 1_500, 'polled waiter');
    expect(performance.now() - released).toBeLessThan(600);
    permit.release();
  });

  test('acquireIfFree from another instance sees permits held elsewhere', async () => {
    const key = nextKey();
    const a = semaphore(connect(), { key, permits: 3 });
    const b = semaphore(connect(), { key, permits: 3 });
    const held = await a.acquire({ weight: 2 });
    expect(await b.acquireIfFree(2)).toBeUndefined();
    const one = await b.acquireIfFree(1);
    expect(one?.weight).toBe(1);
    expect(await a.inspect()).toEqual({ used: 3, queued: 0, holders: 2 });
    held.release();
    one!.release();
    await a.inspect(); // a's release has reached Redis
    expect((await b.inspect()).used).toBe(0);
  });
});

describe('fanOut', () => {
  test('fanOut with a RedisSemaphore caps the calls of two instances together', async () => {
    const key = nextKey();
    const instances = [connect(), connect()].map((c) => semaphore(c, { key, permits: 3 }));
    let inFlight = 0;
    let peak = 0;
    const download = async (id: number) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 1));
      inFlight--;
      return id;
    };
    const ids = Array.from({ length: 20 }, (_, i) => i);
    const results = await within(
      Promise.all(
        instances.map((sem) => fanOut(ids, (id) => download(id), { window: 8, semaphores: [sem] })),
      ),
      10_000,
      'two fan-outs',
    );
    expect(results).toEqual([ids, ids]);
    expect(peak).toBeLessThanOrEqual(3); // 2 × window 8 = 16 without the shared limit
    expect(peak).toBeGreaterThan(1);
    await instances[1]!.inspect();
    expect(await instances[0]!.inspect()).toEqual({ used: 0, queued: 0, holders: 0 });
  });
});

describe('leases', () => {
  test('a held permit is refreshed: it outlives its lease many times over', async () => {
    const key = nextKey();
    const a = semaphore(connect(), { key, leaseMs: 150 });
    const b = semaphore(connect(), { key, leaseMs: 150 });
    const permit = await a.acquire();
    // Six leases long: a waiter in b must time out while the refreshed permit stays held.
    await expect(b.acquire({ timeout: 900 })).rejects.toBeInstanceOf(TimeoutError);
    expect(permit.signal.aborted).toBe(false);
    // Asked through b: b takes its timed-out waiter out of the line in Redis on its own connection
    // (batched to the next tick), so only a command sent behind it there is sure to see it gone;
    // a's connection could overtake it (a flake seen once in 20 runs).
    expect(await b.inspect()).toEqual({ used: 1, queued: 0, holders: 1 });
    permit.release();
  });

  test("a permit's signal aborts with LeaseLostError when its lease was found expired, and it is not re-acquired", async () => {
    const key = nextKey();
    const a = semaphore(connect(), { key, permits: 2, leaseMs: 300 });
    const permit = await a.acquire();
    await admin.del(...keysOf(key).keys); // as if the lease had lapsed (a long pause, a flush)
    const reason = await within(aborted(permit.signal), 1_000, 'lease lost');
    expect(reason).toBeInstanceOf(LeaseLostError);
    expect((reason as LeaseLostError).code).toBe('ERR_UNWEDGE_LEASE_LOST');
    expect((reason as Error).message).toMatch(/^semaphore "sem-\d+" lost a permit: .*found expired/);
    expect(a.held).toBe(0);
    expect(await a.inspect()).toEqual({ used: 0, queued: 0, holders: 0 });
    permit.release(); // harmless
    expect(await a.inspect()).toEqual({ used: 0, queued: 0, holders: 0 });
  });

  test('the permits of an instance that stops refreshing come back to the others within leaseMs', async () => {
    const key = nextKey();
    const a = semaphore(connect(), { key, permits: 2, leaseMs: 600 });
    const b = semaphore(connect(), { key, permits: 2, leaseMs: 600 });
    const held = await a.acquire({ weight: 2 });
    const waiting = b.acquire({ weight: 2, timeout: 3_000 });
    await b.inspect();
    const stopped = performance.now();
    await a.close(); // stops refreshing, like a process that froze; does not release
    expect(held.signal.reason).toBeInstanceOf(ClosedError);
    const permit = await within(waiting, 2_000, 'permits of a stopped holder');
    expect(performance.now() - stopped).toBeLessThan(600 + 300);
    permit.release();
    held.release(); // after close: a no-op in Redis, never an over-release
    expect(await b.inspect()).toEqual({ used: 0, queued: 0, holders: 0 });
  });

  test('a permit whose refresh Redis refuses is lost at once, with the refusal as cause', async () => {
    const key = nextKey();
    const sem = semaphore(connect(), { key, leaseMs: 300 });
    const permit = await sem.acquire();
    await admin.set(keysOf(key).keys[0], 'not a sorted set');
    const reason = (await within(aborted(permit.signal), 1_000, 'lease lost')) as LeaseLostError;
    expect(reason).toBeInstanceOf(LeaseLostError);
    expect(reason.message).toMatch(/its lease could not be kept \(ReplyError: WRONGTYPE/);
    expect((reason.cause as Error).name).toBe('ReplyError');
    await admin.del(keysOf(key).keys[0]);
    permit.release();
  });

  test('run passes the permit signal to fn', async () => {
    const sem = semaphore(connect(), { key: nextKey() });
    const signal = await sem.run((s) => s);
    expect(signal).toBeInstanceOf(AbortSignal);
    expect(signal.aborted).toBe(false);
  });
});

describe('closing', () => {
  test('close rejects waiters with ClosedError, aborts held signals, and later calls reject', async () => {
    const key = nextKey();
    const other = semaphore(connect(), { key });
    const sem = semaphore(connect(), { key, name: 'db' });
    const held = await sem.acquire();
    const waiting = sem.acquire();
    const elsewhere = other.acquire({ timeout: 5_000 });
    await other.inspect();
    const closedWait = waiting.then(
      () => expect.fail('served'),
      (e: unknown) => e,
    );
    await sem.close();
    await expect(Promise.reject(await closedWait)).rejects.toThrow(
      new ClosedError('semaphore "db" was closed while waiting for a permit'),
    );
    expect(held.signal.reason).toBeInstanceOf(ClosedError);
    await expect(sem.acquire()).rejects.toThrow(new ClosedError('semaphore "db" is closed'));
    await expect(sem.acquireIfFree()).rejects.toBeInstanceOf(ClosedError);
    await expect(sem.run(() => 1)).rejects.toBeInstanceOf(ClosedError);
    await sem[Symbol.asyncDispose](); // idempotent
    await expect(sem.close()).resolves.toBeUndefined();
    held.release(); // still returns the permit after close
    (await within(elsewhere, 1_000, 'waiter of another instance')).release();
    expect(await other.inspect()).toEqual({ used: 0, queued: 0, holders: 0 });
  });

  test("a holder that releases another permit from its signal's abort, during close, leaves held at 0 and that permit's signal alone", async () => {
    const sem = semaphore(connect(), { key: nextKey(), permits: 2 });
    const first = await sem.acquire();
    const second = await sem.acquire();
    expect(sem.held).toBe(2);
    first.signal.addEventListener('abort', () => second.release()); // e.g. a request that gives up its other permit
    await sem.close();
    expect(first.signal.aborted).toBe(true);
    expect(second.signal.aborted).toBe(false); // released before it could be lost: nothing to tell its holder
    expect(sem.held).toBe(0); // its weight is taken off once, not twice
    first.release();
  });

  test('a client that has ended settles every wait at once with ClosedError and release does not throw', async () => {
    const key = nextKey();
    const client = connect();
    const errors: unknown[] = [];
    const sem = semaphore(client, { key, leaseMs: 30_000, onError: (e) => errors.push(e) });
    const other = semaphore(connect(), { key });
    const blocker = await other.acquire();
    const held = await sem.acquireIfFree(); // nothing free: other holds it
    expect(held).toBeUndefined();
    blocker.release();
    const permit = await sem.acquire();
    const waiting = sem.acquire(); // no timeout: only the end of the client can settle it
    await sem.inspect();
    const ended = performance.now();
    client.disconnect();
    await expect(within(waiting, 1_000, 'waiter of an ended client')).rejects.toThrow(
      /^semaphore "sem-\d+" cannot be served: its Redis client has ended$/,
    );
    expect(performance.now() - ended).toBeLessThan(500);
    expect(permit.signal.reason).toBeInstanceOf(LeaseLostError);
    expect(() => permit.release()).not.toThrow();
    await expect(sem.acquire()).rejects.toBeInstanceOf(ClosedError);
    await expect(sem.acquireIfFree()).rejects.toBeInstanceOf(ClosedError);
    expect(errors).toEqual([]);
  });
});

describe('Redis failures', () => {
  test('an acquireIfFree answered after close gives its permit back and rejects with ClosedError', async () => {
    const key = nextKey();
    const sem = semaphore(connect(), { key });
    const trying = sem.acquireIfFree();
    await sem.close();
    await expect(trying).rejects.toBeInstanceOf(ClosedError);
    const other = semaphore(connect(), { key });
    const permit = await within(other.acquire(), 1_000, 'the permit given back');
    permit.release();
  });

  test('after SCRIPT FLUSH the script is sent again and everything works', async () => {
    const sem = semaphore(connect(), { key: nextKey(), permits: 2 });
    (await sem.acquire()).release();
    await admin.script('FLUSH');
    const permit = await sem.acquire({ weight: 2 });
    expect((await sem.inspect()).used).toBe(2);
    permit.release();
  });

  test('a Redis error that asking again cannot fix rejects the acquire at once with its cause', async () => {
    const key = nextKey();
    await admin.set(keysOf(key).keys[0], 'not a sorted set');
    const sem = semaphore(connect(), { key });
    const error = await sem.acquire({ timeout: 5_000 }).then(
      () => expect.fail('served'),
      (e: unknown) => e as UnwedgeError,
    );
    expect(error).toBeInstanceOf(UnwedgeError);
    expect(error.message).toMatch(/^semaphore "sem-\d+": Redis failed acquire: .*WRONGTYPE/);
    expect((error.cause as Error).name).toBe('ReplyError');
    await expect(sem.acquireIfFree()).rejects.toThrow(/Redis failed acquireIfFree: .*WRONGTYPE/);
    expect(sem.waiting).toBe(0);
    await admin.del(keysOf(key).keys[0]);
  });

  test('a release Redis refuses goes to onError, to stderr by default, and to stderr when onError throws', async () => {
    const errors: unknown[] = [];
    const quiet = semaphore(connect(), { key: nextKey(), onError: (e) => errors.push(e) });
    const loud = semaphore(connect(), { key: nextKey() });
    const broken = semaphore(connect(), {
      key: nextKey(),
      onError: () => {
        throw new Error('onError broke');
      },
    });
    const sems = [quiet, loud, broken];
    const permits = await Promise.all(sems.map((sem) => sem.acquire()));
    for (const sem of sems) await admin.set(keysOf(sem.key).keys[0], 'not a sorted set');
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      for (const permit of permits) permit.release();
      for (const sem of sems) await sem.inspect().catch(() => {});
      expect(errors).toHaveLength(1);
      expect((errors[0] as Error).message).toMatch(/Redis failed releasing .*WRONGTYPE/);
      const written = write.mock.calls.map(([text]) => String(text));
      expect(written).toHaveLength(2);
      expect(written).toEqual(
        expect.arrayContaining([
          expect.stringMatching(new RegExp(`^unwedge: semaphore "${loud.key}": UnwedgeError: .*WRONGTYPE`)),
          // A throwing hook loses neither error: the failure, then what the hook threw.
          expect.stringMatching(
            new RegExp(
              `^unwedge: semaphore "${broken.key}": UnwedgeError: [\\s\\S]*WRONGTYPE[\\s\\S]*\\nunwedge: semaphore "${broken.key}"'s onError threw while reporting it:\\nError: onError broke`,
            ),
          ),
        ]),
      );
    } finally {
      write.mockRestore();
      for (const sem of sems) await admin.del(keysOf(sem.key).keys[0]);
    }
  });
});

describe('construction', () => {
  test.each([
    [
      'client null',
      () => new RedisSemaphore(null as unknown as Redis, { key: 'k', permits: 1 }),
      TypeError,
      /^client must be an ioredis client; received null$/,
    ],
    [
      'client {}',
      () => new RedisSemaphore({} as Redis, { key: 'k', permits: 1 }),
      TypeError,
      /^client must be an ioredis client; received an object$/,
    ],
    [
      'no options',
      () => new RedisSemaphore(admin, undefined as unknown as RedisSemaphoreOptions),
      TypeError,
      /^options.key must be a non-empty string; received undefined$/,
    ],
    [
      'key ""',
      () => new RedisSemaphore(admin, { key: '', permits: 1 }),
      TypeError,
      /^options.key must be a non-empty string; received ""$/,
    ],
    [
      'key 5',
      () => new RedisSemaphore(admin, { key: 5 as unknown as string, permits: 1 }),
      TypeError,
      /^options.key must be a string; received 5$/,
    ],
    [
      'permits 0',
      () => new RedisSemaphore(admin, { key: 'k', permits: 0 }),
      RangeError,
      /^options.permits must be a positive integer; received 0$/,
    ],
    [
      'permits "2"',
      () => new RedisSemaphore(admin, { key: 'k', permits: '2' as unknown as number }),
      TypeError,
      /^options.permits must be/,
    ],
    [
      'leaseMs 10',
      () => new RedisSemaphore(admin, { key: 'k', permits: 1, leaseMs: 10 }),
      RangeError,
      /^options.leaseMs must be an integer >= 30; received 10$/,
    ],
    [
      'name 1',
      () => new RedisSemaphore(admin, { key: 'k', permits: 1, name: 1 as unknown as string }),
      TypeError,
      /^options.name must be a string; received 1$/,
    ],
    [
      'onError "x"',
      () => new RedisSemaphore(admin, { key: 'k', permits: 1, onError: 'x' as unknown as () => void }),
      TypeError,
      /^options.onError must be a function; received "x"$/,
    ],
  ] as const)('%s throws at once', (_label, make, ErrorClass, message) => {
    expect(make).toThrow(ErrorClass);
    expect(make).toThrow(message);
  });

  test('getters describe the instance', async () => {
    const sem = semaphore(connect(), { key: 'getters', permits: 4, name: 'db' });
    expect([sem.key, sem.name, sem.permits, sem.leaseMs, sem.held, sem.waiting]).toEqual([
      'getters',
      'db',
      4,
      10_000,
      0,
      0,
    ]);
    const permit: RedisPermit = await sem.acquire({ weight: 3 });
    expect(sem.held).toBe(3);
    permit.release();
    expect(sem.held).toBe(0);
  });
});

test('inspect() lists a RedisSemaphore with what this instance holds and its callers in line', async () => {
  const key = nextKey();
  const a = semaphore(connect(), { key, permits: 1, name: 'inspected-redis' });
  const permit = await a.acquire();
  const waiting = a.acquire({ timeout: 5_000 }).then((p) => p.release());
  await a.inspect(); // Redis has seen the waiter join the line
  const block = inspect().primitives.find(
    (p) => p.kind === 'redis-semaphore' && p.name === 'inspected-redis',
  );
  expect(block?.summary).toBe('1 permit; 1 held and 1 waiting here; Redis last said 1 in use, 1 waiting');
  expect(block?.waits.map((w) => [w.what, w.timeout])).toEqual([['acquire 1 permit', 5_000]]);
  permit.release();
  await within(waiting, 2_000, 'the waiter after the release');
  expect(inspect().primitives.find((p) => p.name === 'inspected-redis')?.waits).toEqual([]);
});

describe('async context', () => {
  test("a queued run() calls fn in its caller's AsyncLocalStorage context, not the releaser's", async () => {
    const { AsyncLocalStorage } = await import('node:async_hooks');
    const als = new AsyncLocalStorage<number>();
    const sem = semaphore(connect(), { key: nextKey(), permits: 1 });
    const seen: Array<[number | undefined, number | undefined]> = [];
    await within(
      Promise.all(
        [0, 1, 2, 3, 4].map((req) =>
          als.run(req, () =>
            sem.run(async () => {
              const before = als.getStore();
              await new Promise((resolve) => setImmediate(resolve));
              seen[req] = [before, als.getStore()];
            }),
          ),
        ),
      ),
      10_000,
      'five queued run()s',
    );
    expect(seen).toEqual([0, 1, 2, 3, 4].map((req) => [req, req]));
  });
});

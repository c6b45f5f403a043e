// redis-server goes away while permits are held and callers wait, then comes back empty on the
// same port (no persistence, as after a crash). Every wait settles by its own timeout, every
// holder is told through its signal, release never throws, and afterwards the limit holds again.
import { once } from 'node:events';
import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { LeaseLostError, TimeoutError } from '../../src/errors.js';
import { RedisSemaphore } from '../../src/redis/index.js';
import { TIMER_SLACK, within } from './contract.js';
import { type RedisServer, startRedis } from './server.js';

let server: RedisServer;
const clients: Redis[] = [];

beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  for (const client of clients) client.disconnect();
  await server?.destroy();
});

function connect(options: RedisOptions): Redis {
  // Reconnect every 50 ms; a short disconnectTimeout so that a disconnect mid-outage leaves no timer.
  const client = new Redis(server.port, '127.0.0.1', {
    retryStrategy: () => 50,
    disconnectTimeout: 50,
    ...options,
  });
  client.on('error', () => {}); // ECONNREFUSED while the server is down
  clients.push(client);
  return client;
}

const aborted = (signal: AbortSignal) =>
  signal.aborted
    ? Promise.resolve(signal.reason as unknown)
    : once(signal, 'abort').then(() => signal.reason as unknown);

/** How a wait settled, and after how many ms. */
function timed<T>(promise: Promise<T>) {
  const started = performance.now();
  return promise.then(
    (value) => ({ ok: true as const, value, ms: performance.now() - started }),
    (error: unknown) => ({ ok: false as const, error, ms: performance.now() - started }),
  );
}

test('redis-server stopped and restarted: waiters settle by their timeouts, holders lose their leases, and the limit holds again', async () => {
  const key = 'outage';
  const leaseMs = 900;
  const errors: unknown[] = [];
  // One client queues commands until Redis is back, the other gives up on them after ~20 retries:
  // the two ways an ioredis client behaves during an outage.
  const patient = connect({ maxRetriesPerRequest: null });
  const impatient = connect({});
  const a = new RedisSemaphore(patient, { key, permits: 3, leaseMs, onError: (e) => errors.push(e) });
  const b = new RedisSemaphore(impatient, { key, permits: 3, leaseMs, onError: (e) => errors.push(e) });
  // Closed in the middle of the outage, while its subscriber connection is between reconnections.
  const c = new RedisSemaphore(patient, { key, permits: 3, leaseMs, onError: (e) => errors.push(e) });
  try {
    const heldA = await a.acquire({ weight: 2 });
    const heldB = await b.acquire();
    const waitA = timed(a.acquire({ timeout: 1_200 }));
    const waitB = timed(b.acquire({ weight: 2, timeout: 1_600 }));
    const waitC = timed(c.acquire({ timeout: 400 }));
    await b.inspect();
    expect(await a.inspect()).toEqual({ used: 3, queued: 3, holders: 2 });

    const stopped = performance.now();
    await server.stop();
    // A wait that starts during the outage: its first round trip fails (after ~20 retries), and
    // it goes on waiting until its own timeout.
    const waitLate = timed(b.acquire({ timeout: 1_500 }));

    // Holders learn within the lease that they may no longer hold their permits.
    const [lostA, lostB] = await within(
      Promise.all([aborted(heldA.signal), aborted(heldB.signal)]),
      leaseMs + 500,
      'lost leases',
    );
    expect(performance.now() - stopped).toBeLessThan(leaseMs);
    for (const reason of [lostA, lostB]) {
      expect(reason).toBeInstanceOf(LeaseLostError);
      expect((reason as Error).message).toMatch(
        /^semaphore "outage" lost a permit: its lease could not be kept/,
      );
    }
    expect(() => heldA.release()).not.toThrow();
    expect(() => heldB.release()).not.toThrow();

    // An acquireIfFree that gets no answer settles within a third of the lease.
    const tried = await timed(a.acquireIfFree());
    expect(tried.ok).toBe(false);
    expect(!tried.ok && tried.error).toBeInstanceOf(TimeoutError);
    expect(tried.ms).toBeLessThan(leaseMs / 3 + 200);

    // Waiters settle by their own timeouts, saying the connection is down.
    const [resultA, resultB, resultC, resultLate] = await within(
      Promise.all([waitA, waitB, waitC, waitLate]),
      3_000,
      'waiters',
    );
    await within(c.close(), 1_500, 'close during the outage');
    for (const [result, timeout] of [
      [resultA, 1_200],
      [resultB, 1_600],
      [resultC, 400],
      [resultLate, 1_500],
    ] as const) {
      expect(result.ok).toBe(false);
      expect(!result.ok && result.error).toBeInstanceOf(TimeoutError);
      expect(!result.ok && (result.error as Error).message).toMatch(/the Redis connection is \w+\)$/);
      expect(result.ms).toBeGreaterThanOrEqual(timeout - TIMER_SLACK);
      expect(result.ms).toBeLessThan(timeout + 300);
    }

    // Back on the same port, empty. Both clients reconnect; acquisition works and the limit holds.
    await server.start();
    await within(
      Promise.all([patient, impatient].map((c) => (c.status === 'ready' ? undefined : once(c, 'ready')))),
      3_000,
      'reconnect',
    );
    let inFlight = 0;
    let peak = 0;
    const work = async (weight: number) => {
      inFlight += weight;
      peak = Math.max(peak, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 2));
      inFlight -= weight;
    };
    const runs = [];
    for (let i = 0; i < 40; i++) {
      const weight = 1 + (i % 3);
      runs.push((i % 2 ? a : b).run(() => work(weight), { weight, timeout: 10_000 }));
    }
    await within(Promise.all(runs), 10_000, 'runs after the restart');
    expect(peak).toBeGreaterThanOrEqual(1);
    expect(peak).toBeLessThanOrEqual(3);
    await b.inspect();
    expect(await a.inspect()).toEqual({ used: 0, queued: 0, holders: 0 });
    // Failed releases during the outage were reported, never thrown.
    for (const error of errors) expect((error as Error).message).toMatch(/Redis failed releasing/);
  } finally {
    await Promise.all([a.close(), b.close(), c.close()]);
  }
});

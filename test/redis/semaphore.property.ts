// fast-check interleavings of acquire / acquireIfFree / run / release / abort / timeout, issued from
// two instances on two connections to one real Redis, checked against a counter model: permits
// in use never exceed the limit, every call settles, a call fails only by its own abort or
// timeout, and afterwards Redis holds nothing and queues nobody.
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { TimeoutError } from '../../src/errors.js';
import { type RedisPermit, RedisSemaphore } from '../../src/redis/index.js';
import { within } from './contract.js';
import { type RedisServer, startRedis } from './server.js';

let server: RedisServer;
let clients: [Redis, Redis];

beforeAll(async () => {
  server = await startRedis();
  clients = [new Redis(server.port, '127.0.0.1'), new Redis(server.port, '127.0.0.1')];
});
afterAll(async () => {
  await Promise.all((clients ?? []).map((c) => c.quit()));
  await server?.destroy();
});

const op = (permits: number) =>
  fc.record({
    instance: fc.constantFrom(0, 1),
    kind: fc.constantFrom('acquire', 'run', 'try'),
    weight: fc.integer({ min: 1, max: permits }),
    abort: fc.boolean(),
    timeout: fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined }),
  });

const scenario = fc
  .integer({ min: 1, max: 3 })
  .chain((permits) => fc.tuple(fc.constant(permits), fc.array(op(permits), { minLength: 1, maxLength: 14 })));

let runs = 0;

test('interleaved calls from two instances keep the counter model: bounded, every call settles, nothing left behind', async () => {
  await fc.assert(
    fc.asyncProperty(fc.scheduler(), scenario, async (s, [permits, ops]) => {
      const key = `property-${++runs}`;
      // A long lease: no lease lapses here, and an acquireIfFree (bounded by leaseMs / 3) never gives up
      // on Redis because this busy machine paused the process.
      const sems = clients.map((client) => new RedisSemaphore(client, { key, permits, leaseMs: 30_000 }));
      let inUse = 0;
      let peak = 0;
      const outcomes: string[] = new Array(ops.length).fill('pending');

      const hold = async (i: number, weight: number) => {
        inUse += weight;
        peak = Math.max(peak, inUse);
        await s.schedule(Promise.resolve(), `release ${i}`);
        inUse -= weight;
      };

      try {
        const tasks = ops.map((o, i) =>
          s.schedule(Promise.resolve(), `start ${i}`).then(async () => {
            const sem = sems[o.instance]!;
            const controller = new AbortController();
            if (o.abort) {
              s.schedule(Promise.resolve(), `abort ${i}`).then(() =>
                controller.abort(new Error(`abort ${i}`)),
              );
            }
            const options = { weight: o.weight, signal: controller.signal, timeout: o.timeout };
            try {
              if (o.kind === 'try') {
                const permit = await sem.acquireIfFree(o.weight);
                if (permit === undefined) {
                  outcomes[i] = 'refused';
                  return;
                }
                await hold(i, o.weight);
                permit.release();
              } else if (o.kind === 'run') {
                await sem.run(() => hold(i, o.weight), options);
              } else {
                const permit: RedisPermit = await sem.acquire(options);
                await hold(i, o.weight);
                permit.release();
              }
              outcomes[i] = 'served';
            } catch (error) {
              // A call fails only through its own abort or its own timeout.
              if (error instanceof TimeoutError) {
                expect(o.timeout).toBeDefined();
                outcomes[i] = 'timeout';
              } else {
                expect(o.abort).toBe(true);
                expect((error as Error).message).toBe(`abort ${i}`);
                outcomes[i] = 'aborted';
              }
            }
          }),
        );
        // Run scheduled steps as they appear, while Redis answers in real time, until all settle.
        await within(s.waitFor(Promise.all(tasks)), 10_000, 'all calls');
        expect(outcomes).not.toContain('pending');
        expect(peak).toBeLessThanOrEqual(permits);
        ops.forEach((o, i) => {
          if (o.kind !== 'try' && !o.abort && o.timeout === undefined) expect(outcomes[i]).toBe('served');
        });
        // Fire-and-forget releases reach Redis in order on each connection.
        await sems[1]!.inspect();
        expect(await sems[0]!.inspect()).toEqual({ used: 0, queued: 0, holders: 0 });
        expect(sems[0]!.held + sems[1]!.held).toBe(0);
        expect(sems[0]!.waiting + sems[1]!.waiting).toBe(0);
      } finally {
        await Promise.all(sems.map((sem) => sem.close()));
      }
    }),
    { numRuns: 150, verbose: 1 },
  );
});

import fc from 'fast-check';
import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { ClosedError, QueueFullError, TimeoutError } from '../../src/errors.js';
import { type PoolShutdownReport, WorkerPool } from '../../src/pool/index.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

const op = fc.record({
  abort: fc.boolean(),
  timeout: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }),
  queueTimeout: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }),
  /** Ignores its abort and settles only when its own time comes. */
  stubborn: fc.boolean(),
  fails: fc.boolean(),
});

const scenario = fc.record({
  concurrency: fc.integer({ min: 1, max: 3 }),
  maxQueue: fc.oneof(fc.constant(Number.POSITIVE_INFINITY), fc.integer({ min: 0, max: 4 })),
  ops: fc.array(op, { minLength: 1, maxLength: 14 }),
  shutdown: fc.option(
    fc.record({
      drain: fc.boolean(),
      timeout: fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined }),
    }),
    { nil: undefined },
  ),
});

test('interleaved run/abort/timeout/shutdown keep the model: bounded, FIFO, every run() and shutdown settle', async () => {
  await fc.assert(
    fc.asyncProperty(fc.scheduler(), scenario, async (s, { concurrency, maxQueue, ops, shutdown }) => {
      const reported: unknown[] = [];
      const pool = new WorkerPool({ concurrency, maxQueue, onError: (e) => reported.push(e) });
      let running = 0; // task bodies executing now, abandoned ones included
      const submitted: number[] = [];
      const started: number[] = [];
      const outcomes: string[] = new Array(ops.length).fill('pending');
      let closedAt: number | undefined; // how many runs had been submitted when shutdown was called
      let report: PoolShutdownReport | undefined;

      const body = (i: number, signal: AbortSignal) => {
        running++;
        expect(running).toBeLessThanOrEqual(concurrency);
        started.push(i);
        return new Promise((resolve, reject) => {
          let over = false;
          const end = (settle: () => void) => {
            if (over) return;
            over = true;
            running--;
            settle();
          };
          s.schedule(Promise.resolve(), `task ${i} settles`).then(() =>
            end(() => (ops[i]!.fails ? reject(new Error(`task ${i} failed`)) : resolve(i))),
          );
          if (!ops[i]!.stubborn) {
            signal.addEventListener('abort', () => end(() => reject(signal.reason)), { once: true });
          }
        });
      };

      const runs = ops.map((o, i) =>
        s.schedule(Promise.resolve(), `submit ${i}`).then(async () => {
          const controller = new AbortController();
          if (o.abort) {
            s.schedule(Promise.resolve(), `abort ${i}`).then(() => controller.abort(new Error(`abort ${i}`)));
          }
          submitted.push(i);
          try {
            await pool.run((signal) => body(i, signal), {
              signal: controller.signal,
              timeout: o.timeout,
              queueTimeout: o.queueTimeout,
            });
            outcomes[i] = 'served';
          } catch (error) {
            if (error instanceof TimeoutError) {
              expect(o.timeout !== undefined || o.queueTimeout !== undefined).toBe(true);
              outcomes[i] = 'timeout';
            } else if (error instanceof ClosedError) {
              expect(closedAt).toBeDefined();
              outcomes[i] = 'closed';
            } else if (error instanceof QueueFullError) {
              expect(maxQueue).not.toBe(Number.POSITIVE_INFINITY);
              outcomes[i] = 'full';
            } else if ((error as Error).message === `abort ${i}`) {
              expect(o.abort).toBe(true);
              outcomes[i] = 'aborted';
            } else {
              expect((error as Error).message).toBe(`task ${i} failed`);
              outcomes[i] = 'failed';
            }
          }
        }),
      );
      const shut =
        shutdown === undefined
          ? Promise.resolve()
          : s.schedule(Promise.resolve(), 'shutdown').then(async () => {
              closedAt = submitted.length;
              const settling = pool.shutdown(shutdown);
              expect(pool.closed).toBe(true);
              report = await settling;
            });

      // Drive the scheduler and virtual time until every run() and the shutdown have settled.
      let done = false;
      Promise.all([...runs, shut]).then(() => {
        done = true;
      });
      for (let round = 0; !done && round < 1_000; round++) {
        await s.waitAll();
        await vi.advanceTimersByTimeAsync(5);
      }
      expect(done).toBe(true);
      expect(outcomes).not.toContain('pending');
      // FIFO: tasks start in the order they were submitted.
      const startedSet = new Set(started);
      expect(started).toEqual(submitted.filter((i) => startedSet.has(i)));
      // Nothing submitted after shutdown started, unless a drain was still running.
      if (closedAt !== undefined && !shutdown?.drain) {
        for (const i of submitted.slice(closedAt)) expect(startedSet.has(i)).toBe(false);
      }
      // Every 'closed' outcome is accounted for: cancelled or aborted by the shutdown, or refused after it.
      if (report !== undefined) {
        const refused = submitted.length - closedAt!;
        const closed = outcomes.filter((o) => o === 'closed').length;
        expect(closed).toBe(report.cancelled + report.aborted + refused);
        expect(report.stillRunning).toBeLessThanOrEqual(concurrency);
      }
      // A task with no way to fail on its own, queued in a pool never shut down, was served or failed.
      ops.forEach((o, i) => {
        if (shutdown === undefined && !o.abort && o.timeout === undefined && o.queueTimeout === undefined) {
          expect(['served', 'failed', 'full']).toContain(outcomes[i]);
        }
      });
      // Let the stubborn tasks that outlived their run() finish, then everything is back to rest.
      for (let round = 0; running > 0 && round < 100; round++) await s.waitAll();
      await pool.idle();
      expect([pool.active, pool.queued, pool.abandoned, running]).toEqual([0, 0, 0, 0]);
      expect(vi.getTimerCount(), 'timers').toBe(0);
      // A late failure is reported only for a failing task whose run() had already rejected otherwise.
      for (const error of reported) {
        const i = Number(/task (\d+) failed/.exec((error as Error).message)?.[1]);
        expect(ops[i]!.fails).toBe(true);
        expect(['aborted', 'timeout', 'closed']).toContain(outcomes[i]);
      }
      await pool.shutdown();
    }),
    { numRuns: 150 },
  );
});

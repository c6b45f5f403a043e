import fc from 'fast-check';
import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { ClosedError, TimeoutError } from '../../src/errors.js';
import { type RegistryShutdownReport, type Task, TaskRegistry } from '../../src/registry/registry.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

const taskSpec = fc.record({
  /** Settles with the abort (the reason itself, or wrapped in a cause) as soon as its signal aborts. */
  respectsAbort: fc.boolean(),
  wrapAbort: fc.boolean(),
  /** What fn does when its own `finish` step runs; `hang` never finishes by itself. */
  outcome: fc.constantFrom('resolve', 'reject', 'hang'),
  timeout: fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined }),
  cancel: fc.boolean(),
  awaitDone: fc.boolean(),
});

const scenario = fc.record({
  tasks: fc.array(taskSpec, { minLength: 1, maxLength: 8 }),
  shutdown: fc.option(fc.record({ timeout: fc.integer({ min: 0, max: 60 }), twice: fc.boolean() }), {
    nil: undefined,
  }),
});

interface Model {
  spawned: boolean;
  /** Set the moment fn's promise is settled (the registry learns of it a microtask later). */
  settled: boolean;
  settledAt?: number;
  how?: 'value' | 'own' | 'abort';
  ownError?: Error;
  task?: Task<unknown>;
  done: { status: 'pending' | 'fulfilled' | 'rejected'; value?: unknown; reason?: unknown };
}

test('interleaved spawn/settle/fail/cancel/timeout/shutdown: every failure reported once, none for aborts, size matches the model, shutdown keeps its deadline', async () => {
  await fc.assert(
    fc.asyncProperty(fc.scheduler(), scenario, async (s, { tasks: specs, shutdown }) => {
      const reports: Array<{ error: unknown; name: string }> = [];
      const registry = new TaskRegistry({
        name: 'prop',
        onError: (error, info) => reports.push({ error, name: info.name }),
      });
      const models: Model[] = specs.map(() => ({
        spawned: false,
        settled: false,
        done: { status: 'pending' },
      }));
      const cancelReasons = new Set<unknown>();
      const spawnOrder: number[] = [];
      let shutdownCall:
        | { at: number; snapshot: string[]; promise: Promise<RegistryShutdownReport>; timeout: number }
        | undefined;
      let shutdownResult: { at: number; report: RegistryShutdownReport; live: string[] } | undefined;

      specs.forEach((spec, i) => {
        const m = models[i]!;
        s.schedule(Promise.resolve(), `spawn ${i}`).then(() => {
          const fn = (signal: AbortSignal) =>
            new Promise((resolve, reject) => {
              const settle = (how: 'value' | 'own' | 'abort', reason?: unknown) => {
                if (m.settled) return;
                m.settled = true;
                m.settledAt = Date.now();
                m.how = how;
                if (how === 'value') resolve(i);
                else reject(reason);
              };
              if (spec.respectsAbort) {
                signal.addEventListener(
                  'abort',
                  () =>
                    settle(
                      'abort',
                      spec.wrapAbort ? new Error('stopped', { cause: signal.reason }) : signal.reason,
                    ),
                  { once: true },
                );
              }
              if (spec.outcome !== 'hang') {
                s.schedule(Promise.resolve(), `finish ${i}`).then(() => {
                  if (spec.outcome === 'resolve') settle('value');
                  else {
                    m.ownError ??= new Error(`own ${i}`);
                    settle('own', m.ownError);
                  }
                });
              }
            });
          if (registry.closed) {
            expect(() => registry.spawn(`t${i}`, fn, { timeout: spec.timeout })).toThrow(ClosedError);
            return;
          }
          const task = registry.spawn(`t${i}`, fn, { timeout: spec.timeout });
          m.spawned = true;
          m.task = task;
          spawnOrder.push(i);
          if (spec.awaitDone) {
            task.done.then(
              (value) => Object.assign(m.done, { status: 'fulfilled', value }),
              (reason: unknown) => Object.assign(m.done, { status: 'rejected', reason }),
            );
          }
          if (spec.cancel) {
            s.schedule(Promise.resolve(), `cancel ${i}`).then(() => {
              const reason = new Error(`cancel ${i}`);
              cancelReasons.add(reason);
              task.cancel(reason);
            });
          }
        });
      });

      if (shutdown !== undefined) {
        s.schedule(Promise.resolve(), 'shutdown').then(() => {
          const promise = registry.shutdown({ timeout: shutdown.timeout });
          shutdownCall = {
            at: Date.now(),
            snapshot: registry.list().map((t) => t.name),
            promise,
            timeout: shutdown.timeout,
          };
          if (shutdown.twice) expect(registry.shutdown({ timeout: 1 })).toBe(promise);
          promise.then((report) => {
            shutdownResult = { at: Date.now(), report, live: registry.list().map((t) => t.name) };
          });
        });
      }

      const live = () => spawnOrder.flatMap((i) => (models[i]!.settled ? [] : [`t${i}`]));
      // Drive the scheduler one step at a time with virtual time passing in between, so that
      // timeouts and the shutdown deadline fall between the steps.
      for (let round = 0; round < 2_000; round++) {
        if (s.count() > 0) await s.waitOne();
        else if (vi.getTimerCount() === 0) break;
        await vi.advanceTimersByTimeAsync(3);
        expect(registry.size, 'size').toBe(live().length);
        expect(registry.list().map((t) => t.name)).toEqual(live());
      }
      expect(s.count()).toBe(0);
      expect(vi.getTimerCount(), 'timers').toBe(0);

      // Every failure is reported exactly once: each error of fn's own, and each timeout.
      const expected = models.flatMap((m, i) => {
        const errors: Array<{ error: unknown; name: string }> = [];
        if (m.task?.signal.reason instanceof TimeoutError)
          errors.push({ error: m.task.signal.reason, name: `t${i}` });
        if (m.how === 'own') errors.push({ error: m.ownError, name: `t${i}` });
        return errors;
      });
      expect(reports).toHaveLength(expected.length);
      for (const e of expected) expect(reports.filter((r) => r.error === e.error)).toEqual([e]);
      // None for the registry's or the caller's own aborts.
      for (const r of reports) {
        expect(r.error).not.toBeInstanceOf(ClosedError);
        expect(cancelReasons.has(r.error)).toBe(false);
        expect((r.error as Error).message).not.toBe('stopped');
      }

      // done settles as fn did, or with the abort reason.
      for (const [i, m] of models.entries()) {
        if (!specs[i]!.awaitDone || m.task === undefined) continue;
        if (m.done.status === 'fulfilled') {
          expect(m.how).toBe('value');
          expect(m.done.value).toBe(i);
        } else if (m.done.status === 'rejected') {
          expect([m.task.signal.reason, m.ownError]).toContain(m.done.reason);
        } else {
          expect(m.settled || m.task.signal.aborted).toBe(false);
        }
      }

      if (shutdownCall !== undefined) {
        // Always settles, and within its deadline.
        expect(shutdownResult).toBeDefined();
        const { report, at, live: liveAtReport } = shutdownResult!;
        expect(at - shutdownCall.at).toBeLessThanOrEqual(shutdownCall.timeout);
        expect(report.stragglers).toEqual(liveAtReport);
        // ...and as soon as the last task it aborted has settled, if that is before the deadline.
        const deadline = shutdownCall.at + shutdownCall.timeout;
        const lastSettled = Math.max(
          shutdownCall.at,
          ...shutdownCall.snapshot.map(
            (name) => models[Number(name.slice(1))]!.settledAt ?? Number.POSITIVE_INFINITY,
          ),
        );
        expect(at).toBe(Math.min(lastSettled, deadline));
        if (at < deadline) expect(report.stragglers).toEqual([]);
        // Every task it aborted is in exactly one list.
        const accounted = [...report.cancelled, ...report.failed.map((f) => f.name), ...report.stragglers];
        expect([...accounted].sort()).toEqual([...shutdownCall.snapshot].sort());
        for (const f of report.failed) expect(models[Number(f.name.slice(1))]!.ownError).toBe(f.error);
        for (const name of shutdownCall.snapshot) {
          expect(models[Number(name.slice(1))]!.task!.signal.aborted).toBe(true);
        }
      }
    }),
    { numRuns: 150, verbose: 1 },
  );
});

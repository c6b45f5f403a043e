import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { ClosedError, QueueFullError, TimeoutError } from '../../src/errors.js';
import { WorkerPool } from '../../src/pool/index.js';
import { deferred, track } from '../support/promises.js';
import { poolContract, subjectOf, taskOf, ticks } from './contract.js';

poolContract({
  name: 'WorkerPool',
  fakeTime: true,
  stubborn: true,
  make: (options) => subjectOf(new WorkerPool(options), taskOf),
});

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('construction and bad input', () => {
  test('the constructor validates every option and names it', () => {
    expect(() => new WorkerPool({ concurrency: 0 })).toThrow(
      new RangeError('options.concurrency must be a positive integer; received 0'),
    );
    expect(() => new WorkerPool({ concurrency: 1.5 })).toThrow(RangeError);
    expect(() => new WorkerPool({} as never)).toThrow(TypeError);
    expect(() => new WorkerPool(4 as never)).toThrow(new TypeError('options must be an object; received 4'));
    expect(() => new WorkerPool({ concurrency: 1, maxQueue: -1 })).toThrow(/options.maxQueue/);
    expect(() => new WorkerPool({ concurrency: 1, maxQueue: 0.5 })).toThrow(RangeError);
    expect(() => new WorkerPool({ concurrency: 1, timeout: -5 })).toThrow(/options.timeout/);
    expect(() => new WorkerPool({ concurrency: 1, name: 7 as never })).toThrow(/options.name/);
    expect(() => new WorkerPool({ concurrency: 1, asyncContext: 'yes' as never })).toThrow(
      /options.asyncContext/,
    );
    expect(() => new WorkerPool({ concurrency: 1, onError: 'log' as never })).toThrow(/options.onError/);
    expect(new WorkerPool({ concurrency: 1, maxQueue: Number.POSITIVE_INFINITY }).queued).toBe(0);
  });

  test('run, shutdown and idle reject on bad input instead of throwing', async () => {
    const pool = new WorkerPool({ concurrency: 1 });
    await expect(pool.run('nope' as never)).rejects.toThrow(
      new TypeError('task must be a function; received "nope"'),
    );
    await expect(pool.run(() => 1, { timeout: -1 })).rejects.toThrow(/options.timeout/);
    await expect(pool.run(() => 1, { queueTimeout: Number.NaN })).rejects.toThrow(/options.queueTimeout/);
    await expect(pool.run(() => 1, { signal: {} as never })).rejects.toThrow(/options.signal/);
    await expect(pool.run(() => 1, null as never)).rejects.toThrow(/options must be an object/);
    await expect(pool.shutdown({ drain: 1 as never })).rejects.toThrow(/options.drain/);
    await expect(pool.shutdown({ timeout: -1 })).rejects.toThrow(/options.timeout/);
    await expect(pool.idle({ timeout: 'x' as never })).rejects.toThrow(/options.timeout/);
    expect(pool.closed).toBe(false);
    expect(() => {
      pool.concurrency = 0;
    }).toThrow(new RangeError('concurrency must be a positive integer; received 0'));
  });
});

describe('run', () => {
  test('a task that throws synchronously rejects its run() and frees its slot', async () => {
    const pool = new WorkerPool({ concurrency: 1 });
    const error = new Error('sync');
    await expect(
      pool.run(() => {
        throw error;
      }),
    ).rejects.toBe(error);
    expect(pool.active).toBe(0);
    await expect(pool.run(() => 'next')).resolves.toBe('next');
  });

  test('queued tasks that throw synchronously are each started and rejected in turn', async () => {
    const pool = new WorkerPool({ concurrency: 1 });
    const gate = deferred();
    const first = pool.run(() => gate.promise);
    const thrown = Array.from({ length: 5 }, (_, i) =>
      track(
        pool.run(() => {
          throw new Error(`t${i}`);
        }),
      ),
    );
    const last = pool.run(() => 'last');
    gate.resolve();
    await first;
    await expect(last).resolves.toBe('last');
    expect(thrown.map((t) => (t.reason as Error).message)).toEqual(['t0', 't1', 't2', 't3', 't4']);
  });

  test('a plain value and a thenable are both results', async () => {
    const pool = new WorkerPool({ concurrency: 2 });
    await expect(pool.run(() => 7)).resolves.toBe(7);
    // biome-ignore lint/suspicious/noThenProperty: a task may return any thenable
    const thenable = { then: (resolve: (v: string) => void) => resolve('then') };
    await expect(pool.run(() => thenable as PromiseLike<string>)).resolves.toBe('then');
  });

  test('timeout 0 rejects at once without calling the task', async () => {
    const pool = new WorkerPool({ concurrency: 1 });
    const task = vi.fn(() => 1);
    await expect(pool.run(task, { timeout: 0 })).rejects.toThrow(TimeoutError);
    expect(task).not.toHaveBeenCalled();
  });

  test('the pool timeout is the default of every run, and a run timeout overrides it', async () => {
    const pool = new WorkerPool({ concurrency: 2, timeout: 100, name: 'slow' });
    const hung = () => new Promise(() => {});
    const byDefault = track(pool.run(hung));
    const longer = track(pool.run(hung, { timeout: 300 }));
    await vi.advanceTimersByTimeAsync(100);
    expect(byDefault.reason).toEqual(
      new TimeoutError('pool "slow" task ran longer than its timeout of 100 ms'),
    );
    expect(longer.status).toBe('pending');
    await vi.advanceTimersByTimeAsync(200);
    expect(longer.reason).toBeInstanceOf(TimeoutError);
    expect(pool.abandoned).toBe(2); // they never settle: they keep their slots
    expect(pool.active).toBe(2);
    expect(await pool.shutdown()).toEqual({ cancelled: 0, aborted: 0, stillRunning: 2 });
  });

  test("the task's signal aborts with the run's reason, and a timeout aborts it with the TimeoutError", async () => {
    const pool = new WorkerPool({ concurrency: 2 });
    const seen: unknown[] = [];
    const watch = (signal: AbortSignal) =>
      new Promise((_, reject) => {
        signal.addEventListener('abort', () => {
          seen.push(signal.reason);
          reject(signal.reason);
        });
      });
    const controller = new AbortController();
    const byAbort = pool.run(watch, { signal: controller.signal }).catch((e: unknown) => e);
    const byTimeout = pool.run(watch, { timeout: 10 }).catch((e: unknown) => e);
    controller.abort('left');
    await vi.advanceTimersByTimeAsync(10);
    expect(await byAbort).toBe('left');
    expect(await byTimeout).toBeInstanceOf(TimeoutError);
    expect(seen).toEqual(['left', await byTimeout]);
    await pool.idle();
  });

  test("a task's timer and abort listener are removed when it settles, on every path", async () => {
    const pool = new WorkerPool({ concurrency: 1 });
    const controller = new AbortController();
    const { signal } = controller;
    await pool.run(() => 1, { signal, timeout: 1_000 });
    await expect(
      pool.run(() => Promise.reject(new Error('x')), { signal, timeout: 1_000 }),
    ).rejects.toThrow();
    const blocker = deferred();
    const first = pool.run(() => blocker.promise);
    const queued = pool.run(() => 2, { signal, timeout: 1_000, queueTimeout: 1_000 });
    expect(getEventListeners(signal, 'abort')).toHaveLength(1);
    blocker.resolve();
    await first;
    await queued;
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  test('a task with no parameter and no abort source shares the pool signal, which aborts at shutdown', async () => {
    const pool = new WorkerPool({ concurrency: 2 });
    let seen: AbortSignal | undefined;
    const run = track(
      pool.run(function (this: unknown) {
        // biome-ignore lint/complexity/noArguments: a task that reaches its signal without declaring it
        seen = arguments[0] as AbortSignal;
        return new Promise(() => {});
      }),
    );
    expect(seen).toBeInstanceOf(AbortSignal);
    expect(seen!.aborted).toBe(false);
    await pool.shutdown();
    expect(seen!.aborted).toBe(true);
    expect(seen!.reason).toBeInstanceOf(ClosedError);
    await ticks();
    expect(run.reason).toBe(seen!.reason);
  });

  test('a task declaring its signal gets one of its own', async () => {
    const pool = new WorkerPool({ concurrency: 2 });
    const signals: AbortSignal[] = [];
    const gate = deferred();
    const runs = [1, 2].map(() =>
      pool.run((signal) => {
        signals.push(signal);
        return gate.promise;
      }),
    );
    expect(signals[0]).not.toBe(signals[1]);
    gate.resolve();
    await Promise.all(runs);
    expect(signals.some((s) => s.aborted)).toBe(false);
  });

  test('an abandoned task that later fails is reported to onError, unless it failed with its abort', async () => {
    const errors: unknown[] = [];
    const pool = new WorkerPool({ concurrency: 3, onError: (e) => errors.push(e) });
    const late = deferred();
    const cooperative = deferred();
    const c1 = new AbortController();
    const c2 = new AbortController();
    const c3 = new AbortController();
    const r1 = pool.run(() => late.promise, { signal: c1.signal }).catch(() => {});
    const r2 = pool.run(() => cooperative.promise, { signal: c2.signal }).catch(() => {});
    const r3 = pool.run(() => Promise.reject(new DOMException('aborted', 'AbortError')), {
      signal: c3.signal,
    });
    c1.abort('a');
    c2.abort('b');
    await Promise.all([r1, r2]);
    late.reject(new Error('failed after abandonment'));
    cooperative.reject('b');
    await expect(r3).rejects.toThrow('aborted');
    await pool.idle();
    expect(errors).toEqual([new Error('failed after abandonment')]);
  });

  test('without onError an abandoned failure goes to stderr, and an onError that throws is reported too', async () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const plain = new WorkerPool({ concurrency: 1, name: 'feeds' });
      const throwing = new WorkerPool({
        concurrency: 1,
        onError: () => {
          throw new Error('hook broke');
        },
      });
      for (const pool of [plain, throwing]) {
        const c = new AbortController();
        const fail = deferred();
        const run = pool.run(() => fail.promise, { signal: c.signal }).catch(() => {});
        c.abort();
        await run;
        fail.reject(new Error('late failure'));
        await pool.idle();
      }
      const text = write.mock.calls.map((c) => String(c[0])).join('');
      expect(text).toContain('pool "feeds" task failed after its run() ended');
      expect(text).toContain('late failure');
      expect(text).toContain('onError threw');
      // A throwing onError loses neither error: the failure is written for both pools.
      expect(text.match(/Error: late failure/g)).toHaveLength(2);
    } finally {
      write.mockRestore();
    }
  });

  test('the abort and the grant in the same tick: the aborted head never starts', async () => {
    const pool = new WorkerPool({ concurrency: 1 });
    const gate = deferred();
    const controller = new AbortController();
    const started: string[] = [];
    // The first task frees its slot from the same abort event that withdraws the queued one.
    const first = pool.run(() => {
      controller.signal.addEventListener('abort', () => gate.resolve());
      return gate.promise;
    });
    const second = track(pool.run(() => started.push('second'), { signal: controller.signal }));
    const third = pool.run(() => started.push('third'));
    controller.abort('gone');
    await first;
    await third;
    expect(second.reason).toBe('gone');
    expect(started).toEqual(['third']);
  });
});

describe('concurrency', () => {
  test('raising concurrency starts queued tasks at once', async () => {
    const pool = new WorkerPool({ concurrency: 1 });
    const gate = deferred();
    const started: number[] = [];
    const runs = [1, 2, 3].map((i) =>
      pool.run(() => {
        started.push(i);
        return gate.promise;
      }),
    );
    expect(started).toEqual([1]);
    pool.concurrency = 3;
    expect(started).toEqual([1, 2, 3]);
    expect(pool.concurrency).toBe(3);
    gate.resolve();
    await Promise.all(runs);
  });

  test('lowering concurrency lets running tasks finish and starts no more until under the limit', async () => {
    const pool = new WorkerPool({ concurrency: 3 });
    const gates = [deferred(), deferred(), deferred(), deferred()];
    const started: number[] = [];
    const runs = gates.map((g, i) =>
      pool.run(() => {
        started.push(i);
        return g.promise;
      }),
    );
    expect(started).toEqual([0, 1, 2]);
    pool.concurrency = 1;
    gates[0]!.resolve();
    await runs[0];
    gates[1]!.resolve();
    await runs[1];
    expect(started).toEqual([0, 1, 2]); // still 1 running: at the new limit
    gates[2]!.resolve();
    await runs[2];
    expect(started).toEqual([0, 1, 2, 3]);
    gates[3]!.resolve();
    await runs[3];
  });
});

describe('nested submission (seed 004)', () => {
  test('a pool of concurrency 2 whose 2 running tasks each await 3 children completes', async () => {
    const pool = new WorkerPool({ concurrency: 2 });
    let peak = 0;
    const parent = (p: number) =>
      pool.run(async () => {
        const kids = await Promise.all(
          [1, 2, 3].map((c) =>
            pool.run(async () => {
              await vi.advanceTimersByTimeAsync(0);
              return `${p}.${c}`;
            }),
          ),
        );
        peak = Math.max(peak, pool.active);
        return kids;
      });
    const [a, b, c] = [parent(1), parent(2), parent(3)]; // the third waits for a slot
    expect(pool.queued).toBe(1);
    expect(await a).toEqual(['1.1', '1.2', '1.3']);
    expect(await b).toEqual(['2.1', '2.2', '2.3']);
    expect(await c).toEqual(['3.1', '3.2', '3.3']);
    expect(peak).toBeLessThanOrEqual(2);
  });

  test('a child submitted after an await with its parent signal runs on the parent slot', async () => {
    const pool = new WorkerPool({ concurrency: 1 });
    const result = await pool.run(async (signal) => {
      await Promise.resolve();
      return pool.run(async () => 'child', { signal });
    });
    expect(result).toBe('child');
  });

  test('with asyncContext a child submitted after an await with no signal is recognised too', async () => {
    const pool = new WorkerPool({ concurrency: 1, asyncContext: true });
    const result = await pool.run(async () => {
      await Promise.resolve();
      return pool.run(async () => 'child', { queueTimeout: 0 });
    });
    expect(result).toBe('child');
  });

  test('without asyncContext and without the signal, a child after an await queues like any task', async () => {
    const pool = new WorkerPool({ concurrency: 1, asyncContext: false }); // the default on Node 20 and 22
    const run = pool.run(async () => {
      await Promise.resolve();
      return pool.run(async () => 'child', { queueTimeout: 0 });
    });
    await expect(run).rejects.toThrow(TimeoutError);
  });

  test("a parent's slot stays held until its children settle", async () => {
    const pool = new WorkerPool({ concurrency: 1 });
    const child = deferred<string>();
    let childRun: Promise<string> | undefined;
    await pool.run(() => {
      childRun = pool.run(() => child.promise);
      return 'parent done';
    });
    expect(pool.active).toBe(1);
    const next = track(pool.run(() => 'next'));
    await ticks();
    expect(next.status).toBe('pending');
    child.resolve('child done');
    expect(await childRun).toBe('child done');
    await ticks();
    expect(next.status).toBe('fulfilled');
    expect(pool.active).toBe(0);
  });

  test('a child follows its parent signal: aborting the parent aborts and rejects the child', async () => {
    const pool = new WorkerPool({ concurrency: 1 });
    const controller = new AbortController();
    let childSignal: AbortSignal | undefined;
    let childRun: ReturnType<typeof track> | undefined;
    const parent = track(
      pool.run(
        (_signal) => {
          childRun = track(
            pool.run((signal) => {
              childSignal = signal;
              return new Promise((_, reject) =>
                signal.addEventListener('abort', () => reject(signal.reason)),
              );
            }),
          );
          return new Promise(() => {});
        },
        { signal: controller.signal },
      ),
    );
    controller.abort('parent aborted');
    await ticks();
    expect(parent.reason).toBe('parent aborted');
    expect(childRun!.reason).toBe('parent aborted');
    expect(childSignal!.reason).toBe('parent aborted');
    // the parent never settles: it keeps the slot, but a later child of it is refused at once
    expect(pool.active).toBe(1);
    await pool.shutdown();
  });

  test('grandchildren share the root slot, and children may start while the pool drains', async () => {
    const pool = new WorkerPool({ concurrency: 1 });
    const gate = deferred();
    const run = pool.run(async (signal) => {
      await gate.promise;
      return pool.run((s) => pool.run(() => 'grandchild', { signal: s }), { signal });
    });
    const shutdown = pool.shutdown({ drain: true });
    await expect(pool.run(() => 'outsider')).rejects.toThrow(/is shutting down/);
    gate.resolve();
    expect(await run).toBe('grandchild');
    expect(await shutdown).toEqual({ cancelled: 0, aborted: 0, stillRunning: 0 });
  });

  test('the shared pool signal marks a child too, and a settled parent no longer does', async () => {
    const pool = new WorkerPool({ concurrency: 1 });
    let stash: AbortSignal | undefined;
    const result = await pool.run(async function (this: unknown) {
      // biome-ignore lint/complexity/noArguments: a rest-parameter wrapper forwards the signal
      stash = arguments[0] as AbortSignal;
      await Promise.resolve();
      return pool.run(() => 'child', { signal: stash!, queueTimeout: 0 });
    });
    expect(result).toBe('child');
    // The signal of a task that has settled marks nothing: this run queues like any other.
    const own = await pool.run(async (signal) => signal);
    const blocker = deferred();
    const running = pool.run(() => blocker.promise);
    await expect(pool.run(() => 'late', { signal: own, queueTimeout: 0 })).rejects.toThrow(TimeoutError);
    blocker.resolve();
    await running;
  });

  test('a run of another pool from inside a task is not nested in this one', async () => {
    const a = new WorkerPool({ concurrency: 1 });
    const b = new WorkerPool({ concurrency: 1 });
    const gate = deferred();
    const hold = b.run(() => gate.promise);
    const out = a.run(() => b.run(() => 'from b', { queueTimeout: 0 }));
    await expect(out).rejects.toThrow(TimeoutError);
    gate.resolve();
    await hold;
  });
});

describe('shutdown and idle', () => {
  test('shutdown with a timeout waits for aborted tasks to stop, up to that long', async () => {
    const pool = new WorkerPool({ concurrency: 2 });
    const slow = deferred();
    pool
      .run(
        (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      )
      .catch(() => {});
    pool.run(() => slow.promise).catch(() => {});
    const shutdown = track(pool.shutdown({ timeout: 500 }));
    await vi.advanceTimersByTimeAsync(499);
    expect(shutdown.status).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    expect(shutdown.value).toEqual({ cancelled: 0, aborted: 2, stillRunning: 1 });
    slow.resolve();
    await pool.idle();
  });

  test('a drain shutdown resolves as soon as everything settled, clearing its timer', async () => {
    const pool = new WorkerPool({ concurrency: 1 });
    const gate = deferred();
    const run = pool.run(() => gate.promise);
    const shutdown = pool.shutdown({ drain: true });
    expect(vi.getTimerCount()).toBe(1);
    gate.resolve();
    await run;
    expect(await shutdown).toEqual({ cancelled: 0, aborted: 0, stillRunning: 0 });
    expect(vi.getTimerCount()).toBe(0);
  });

  test('drain with timeout 0 cancels at once, and a drain with Infinity waits as long as it takes', async () => {
    const pool = new WorkerPool({ concurrency: 1 });
    pool.run(() => new Promise(() => {})).catch(() => {});
    expect(await pool.shutdown({ drain: true, timeout: 0 })).toEqual({
      cancelled: 0,
      aborted: 1,
      stillRunning: 1,
    });
    const other = new WorkerPool({ concurrency: 1 });
    const gate = deferred();
    const run = other.run(() => gate.promise);
    const forever = track(other.shutdown({ drain: true, timeout: Number.POSITIVE_INFINITY }));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(forever.status).toBe('pending');
    expect(vi.getTimerCount()).toBe(0);
    gate.resolve();
    await run;
    await ticks();
    expect(forever.status).toBe('fulfilled');
  });

  test('getters describe the pool at each stage', async () => {
    const pool = new WorkerPool({ concurrency: 1, name: 'g' });
    expect(pool.name).toBe('g');
    const gate = deferred();
    const run = pool.run(() => gate.promise);
    const queued = pool.run(() => 2).catch(() => 'cancelled');
    expect([pool.active, pool.queued, pool.abandoned, pool.closed]).toEqual([1, 1, 0, false]);
    await pool.shutdown();
    expect([pool.active, pool.queued, pool.abandoned, pool.closed]).toEqual([1, 0, 1, true]);
    expect(await queued).toBe('cancelled');
    gate.resolve();
    await run.catch(() => {});
    await pool.idle();
    expect([pool.active, pool.abandoned]).toEqual([0, 0]);
  });

  test('an idle timeout names the pool and what it still waits for', async () => {
    const pool = new WorkerPool({ concurrency: 1, name: 'q' });
    const gate = deferred();
    const run = pool.run(() => gate.promise);
    await expect(pool.idle({ timeout: 0 })).rejects.toThrow(
      'pool "q" was not idle within 0 ms (1 running, 0 queued)',
    );
    gate.resolve();
    await run;
  });

  test('a run() made while closed or aborted rejects, the abort reason first', async () => {
    const pool = new WorkerPool({ concurrency: 1 });
    await pool.shutdown();
    await expect(pool.run(() => 1, { signal: AbortSignal.abort('mine') })).rejects.toBe('mine');
    await expect(pool.run(() => 1)).rejects.toThrow(ClosedError);
  });

  test('a queueTimeout message counts the tasks queued besides the caller, and says "1 slot"', async () => {
    const pool = new WorkerPool({ concurrency: 1, name: 'thumbs', maxQueue: 2 });
    const gate = deferred();
    const run = pool.run(() => gate.promise);
    const queued = [track(pool.run(() => 1, { queueTimeout: 100 })), track(pool.run(() => 2))];
    await vi.advanceTimersByTimeAsync(100);
    expect((queued[0]!.reason as Error).message).toBe(
      'pool "thumbs" gave no slot within 100 ms (1 slot, 1 in use, 1 other waiting)',
    );
    // queueTimeout 0 never joins the line: everyone in it is another task
    await expect(pool.run(() => 3, { queueTimeout: 0 })).rejects.toThrow(
      'pool "thumbs" gave no slot within 0 ms (1 slot, 1 in use, 1 other waiting)',
    );
    pool.run(() => 4).catch(() => {});
    await expect(pool.run(() => 5)).rejects.toThrow(
      'pool "thumbs" queue is full (maxQueue 2; 1 slot, 1 in use, 2 waiting)',
    );
    gate.resolve();
    await run;
    await pool.idle();
    expect(queued[1]!.value).toBe(2);
  });

  test('QueueFullError comes before a queueTimeout of 0', async () => {
    const pool = new WorkerPool({ concurrency: 1, maxQueue: 0 });
    const gate = deferred();
    const run = pool.run(() => gate.promise);
    await expect(pool.run(() => 1, { queueTimeout: 0 })).rejects.toThrow(QueueFullError);
    gate.resolve();
    await run;
  });
});

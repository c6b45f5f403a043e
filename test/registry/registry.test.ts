import { getEventListeners } from 'node:events';
import { inspect } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, beforeEach, describe, expect, type MockInstance, test, vi } from 'vitest';
import { ClosedError, TimeoutError } from '../../src/errors.js';
import { type TaskInfo, TaskRegistry } from '../../src/registry/registry.js';
import { deferred, track } from '../support/promises.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** Lets settled promises run their continuations. */
const flush = () => vi.advanceTimersByTimeAsync(0);

/** A registry whose failures are collected instead of printed. */
function collecting(name = 'app') {
  const reports: Array<{ error: unknown; task: TaskInfo }> = [];
  const registry = new TaskRegistry({ name, onError: (error, task) => reports.push({ error, task }) });
  return { registry, reports };
}

/** Work that settles with the abort reason as soon as its signal aborts, as a well-behaved driver does. */
function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) =>
    signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
  );
}

function stderrSpy(): MockInstance {
  return vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
}

const written = (spy: MockInstance) => spy.mock.calls.map((call) => String(call[0])).join('');

describe('spawn', () => {
  test('spawn calls fn at once with the task signal and done resolves with its result', async () => {
    const { registry, reports } = collecting();
    let seen: AbortSignal | undefined;
    vi.setSystemTime(1_000);
    const task = registry.spawn('answer', (signal) => {
      seen = signal;
      return Promise.resolve(42);
    });
    expect(seen).toBe(task.signal);
    expect(task.signal.aborted).toBe(false);
    expect(task).toMatchObject({ id: 1, name: 'answer', startedAt: 1_000 });
    expect(await task.done).toBe(42);
    expect(reports).toEqual([]);
  });

  test('a synchronous fn is a task too: its value resolves done, its throw is a failure', async () => {
    const { registry, reports } = collecting();
    const ok = registry.spawn('sync-ok', () => 'plain');
    const boom = new Error('thrown synchronously');
    const bad = track(
      registry.spawn('sync-throw', () => {
        throw boom;
      }).done,
    );
    expect(await ok.done).toBe('plain');
    await flush();
    expect(bad).toMatchObject({ status: 'rejected', reason: boom });
    expect(reports).toHaveLength(1);
    expect(reports[0]!.task).toMatchObject({ name: 'sync-throw', state: 'running' });
    expect(registry.size).toBe(0);
  });

  test('ids increase in spawn order and list is a snapshot with state and age, oldest first', async () => {
    const { registry } = collecting();
    const a = deferred();
    const b = deferred();
    const first = registry.spawn('first', () => a.promise);
    await vi.advanceTimersByTimeAsync(100);
    const second = registry.spawn('second', () => b.promise);
    await vi.advanceTimersByTimeAsync(50);
    expect(second.id).toBeGreaterThan(first.id);
    const snapshot = registry.list();
    expect(snapshot).toEqual([
      { id: first.id, name: 'first', state: 'running', ageMs: 150 },
      { id: second.id, name: 'second', state: 'running', ageMs: 50 },
    ]);
    a.resolve();
    await flush();
    expect(snapshot).toHaveLength(2); // a snapshot: later changes do not touch it
    expect(registry.list().map((t) => t.name)).toEqual(['second']);
    b.resolve();
    await flush();
    expect(registry.list()).toEqual([]);
  });

  test('a settled task is dropped at once: size counts only live tasks', async () => {
    const { registry } = collecting();
    const work = deferred();
    registry.spawn('long', () => work.promise);
    for (let i = 0; i < 100; i++) registry.spawn(`short-${i}`, async () => i);
    expect(registry.size).toBe(101);
    await flush();
    expect(registry.size).toBe(1);
    work.resolve();
    await flush();
    expect(registry.size).toBe(0);
  });

  test('list is safe inside fn and inside onError: the task sees itself', async () => {
    const seen: string[][] = [];
    const registry = new TaskRegistry({
      onError: () => seen.push(registry.list().map((t) => t.name)),
    });
    registry.spawn('self', () => {
      seen.push(registry.list().map((t) => t.name));
      return Promise.reject(new Error('x'));
    });
    await flush();
    expect(seen).toEqual([['self'], []]);
  });

  test('each registry numbers its own tasks', () => {
    const one = new TaskRegistry();
    const two = new TaskRegistry();
    expect(one.spawn('a', () => 1).id).toBe(1);
    expect(one.spawn('b', () => 1).id).toBe(2);
    expect(two.spawn('c', () => 1).id).toBe(1);
  });
});

describe('failures', () => {
  test('a rejected task is reported exactly once to onError, even when done is awaited too', async () => {
    const { registry, reports } = collecting();
    const error = new Error('updater crashed');
    vi.setSystemTime(0);
    const task = registry.spawn('airlock-status-updater', async () => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      throw error;
    });
    const done = track(task.done);
    await vi.advanceTimersByTimeAsync(300);
    expect(done).toMatchObject({ status: 'rejected', reason: error });
    await task.done.catch(() => {}); // awaiting again does not report again
    await vi.advanceTimersByTimeAsync(1_000);
    expect(reports).toEqual([
      { error, task: { id: task.id, name: 'airlock-status-updater', state: 'running', ageMs: 300 } },
    ]);
  });

  test('done may be ignored: a failing task never causes an unhandled rejection', async () => {
    const { registry, reports } = collecting();
    registry.spawn('ignored', () => Promise.reject(new Error('nobody awaits done')));
    registry.spawn('ignored-sync', () => {
      throw new Error('nor this one');
    });
    await flush();
    // test/support/setup.ts fails this file if either rejection went unhandled.
    expect(reports.map((r) => (r.error as Error).message)).toEqual(['nobody awaits done', 'nor this one']);
  });

  test('without onError a failure goes to stderr with the registry and task names, the stack and the cause chain', async () => {
    const spy = stderrSpy();
    const registry = new TaskRegistry({ name: 'app' });
    const root = new TypeError('ECONNREFUSED 127.0.0.1:5432');
    vi.setSystemTime(0);
    registry.spawn('deployment-status-updater', async () => {
      await new Promise((resolve) => setTimeout(resolve, 25));
      throw new Error('status update failed', { cause: new Error('db unreachable', { cause: root }) });
    });
    await vi.advanceTimersByTimeAsync(25);
    expect(spy).toHaveBeenCalledTimes(1);
    const text = written(spy);
    expect(text).toContain(
      'unwedge: task "deployment-status-updater" (#1, 25 ms old) of task registry "app" failed:\n',
    );
    expect(text).toContain('Error: status update failed\n    at ');
    expect(text).toMatch(/\[cause\]: Error: db unreachable\n\s+at /);
    expect(text).toMatch(/\[cause\]: TypeError: ECONNREFUSED 127\.0\.0\.1:5432/);
  });

  test('an unnamed registry reports as "task registry"; a non-Error throw is shown as it is', async () => {
    const spy = stderrSpy();
    const registry = new TaskRegistry();
    registry.spawn('strings', () => Promise.reject('just a string'));
    await flush();
    expect(written(spy)).toBe(
      'unwedge: task "strings" (#1, 0 ms old) of task registry failed:\n\'just a string\'\n',
    );
  });

  test('an onError that throws does not hide the failure: both go to stderr, nothing is unhandled', async () => {
    const spy = stderrSpy();
    const registry = new TaskRegistry({
      name: 'app',
      onError: () => {
        throw new Error('logger is down');
      },
    });
    registry.spawn('updater', () => Promise.reject(new Error('real failure')));
    await flush();
    const text = written(spy);
    expect(text).toContain(
      'task "updater" (#1, 0 ms old) of task registry "app" failed:\nError: real failure',
    );
    expect(text).toContain('task registry "app"\'s onError threw while reporting it:\nError: logger is down');
  });

  test('a thrown value that cannot be inspected is still reported', async () => {
    const spy = stderrSpy();
    const registry = new TaskRegistry();
    const hostile = {
      [inspect.custom]() {
        throw new Error('inspect me not');
      },
    };
    registry.spawn('hostile', () => Promise.reject(hostile));
    await flush();
    expect(written(spy)).toBe(
      'unwedge: task "hostile" (#1, 0 ms old) of task registry failed:\n[object Object] (could not be inspected)\n',
    );
  });

  test('a task that resolves is never reported', async () => {
    const spy = stderrSpy();
    const registry = new TaskRegistry();
    await registry.spawn('fine', async () => 'ok').done;
    await flush();
    expect(spy).not.toHaveBeenCalled();
  });
});

describe('cancel', () => {
  test('cancel aborts the signal with exactly the reason and done rejects with it at once; not a failure', async () => {
    const { registry, reports } = collecting();
    const reason = new Error('user stopped it');
    const task = registry.spawn('cancellable', (signal) => untilAborted(signal));
    const done = track(task.done);
    task.cancel(reason);
    expect(task.signal.aborted).toBe(true);
    expect(task.signal.reason).toBe(reason);
    await flush();
    expect(done).toMatchObject({ status: 'rejected', reason });
    expect(reports).toEqual([]);
    expect(registry.size).toBe(0);
  });

  test('cancel without a reason aborts with an AbortError', async () => {
    const { registry, reports } = collecting();
    const task = registry.spawn('cancellable', (signal) => untilAborted(signal));
    task.cancel();
    await expect(task.done).rejects.toMatchObject({ name: 'AbortError' });
    await flush();
    expect(reports).toEqual([]);
  });

  test('a cancelled task that ignores the abort stays listed as cancelled until fn settles', async () => {
    const { registry, reports } = collecting();
    const work = deferred();
    const task = registry.spawn('stubborn', () => work.promise);
    const done = track(task.done);
    task.cancel(new Error('stop'));
    await flush();
    expect(done.status).toBe('rejected'); // the caller is not held hostage by fn
    expect(registry.list()).toMatchObject([{ name: 'stubborn', state: 'cancelled' }]);
    work.resolve();
    await flush();
    expect(registry.size).toBe(0);
    expect(reports).toEqual([]);
  });

  test('fn settling with the abort wrapped in its cause chain, or with an AbortError, is not a failure', async () => {
    const { registry, reports } = collecting();
    const wrapped = registry.spawn('wraps', async (signal) => {
      try {
        await untilAborted(signal);
      } catch (reason) {
        throw new Error('stopped while polling', { cause: new Error('poll aborted', { cause: reason }) });
      }
    });
    const timersStyle = registry.spawn('timers-promises', async (signal) => {
      const { setTimeout: sleep } = await import('node:timers/promises');
      await sleep(60_000, undefined, { signal }); // rejects with Node's AbortError
    });
    await flush();
    wrapped.cancel(new Error('stop 1'));
    timersStyle.cancel(new Error('stop 2'));
    await flush();
    expect(registry.size).toBe(0);
    expect(reports).toEqual([]);
  });

  test('an error of its own after it was cancelled is a failure, reported once and said so', async () => {
    const spy = stderrSpy();
    const registry = new TaskRegistry({ name: 'app' });
    const work = deferred();
    const task = registry.spawn('cleanup-crash', () => work.promise);
    task.cancel(new Error('stop'));
    work.reject(new Error('cleanup failed'));
    await flush();
    expect(spy).toHaveBeenCalledTimes(1);
    expect(written(spy)).toContain(
      'task "cleanup-crash" (#1, 0 ms old) of task registry "app" failed after it was cancelled:\nError: cleanup failed',
    );
  });

  test('cancel twice keeps the first reason; cancel after the task settled does nothing', async () => {
    const { registry } = collecting();
    const first = new Error('first');
    const task = registry.spawn('twice', (signal) => untilAborted(signal));
    task.cancel(first);
    task.cancel(new Error('second'));
    expect(task.signal.reason).toBe(first);
    const finished = registry.spawn('finished', async () => 1);
    await finished.done;
    await flush();
    finished.cancel(new Error('too late'));
    expect(finished.signal.aborted).toBe(false);
  });
});

describe('timeout', () => {
  test('a task past its timeout is aborted with a TimeoutError, done rejects, and it is reported once as a failure', async () => {
    const { registry, reports } = collecting();
    const task = registry.spawn('db-connect', (signal) => untilAborted(signal), { timeout: 500 });
    const done = track(task.done);
    await vi.advanceTimersByTimeAsync(499);
    expect(done.status).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    expect(done.status).toBe('rejected');
    const error = done.reason as TimeoutError;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.code).toBe('ERR_UNWEDGE_TIMEOUT');
    expect(error.message).toBe('task "db-connect" (#1) of task registry "app" timed out after 500 ms');
    expect(task.signal.reason).toBe(error);
    await flush();
    // fn settled with the TimeoutError itself: the same failure, not a second one.
    expect(reports).toEqual([{ error, task: { id: 1, name: 'db-connect', state: 'timed-out', ageMs: 500 } }]);
    expect(registry.size).toBe(0);
  });

  test('a timed-out task that ignores the abort is reported at the deadline, not when (if ever) it ends', async () => {
    const { registry, reports } = collecting();
    const work = deferred();
    registry.spawn('hung-connect', () => work.promise, { timeout: 100 });
    await vi.advanceTimersByTimeAsync(100);
    expect(reports).toHaveLength(1);
    expect(registry.list()).toMatchObject([{ name: 'hung-connect', state: 'timed-out', ageMs: 100 }]);
    work.reject(new Error('ECONNRESET after the timeout'));
    await flush();
    // A different error of its own, later: reported too (never silent), said to come after the timeout.
    expect(reports.map((r) => [r.task.state, (r.error as Error).message])).toEqual([
      ['timed-out', 'task "hung-connect" (#1) of task registry "app" timed out after 100 ms'],
      ['timed-out', 'ECONNRESET after the timeout'],
    ]);
    expect(registry.size).toBe(0);
  });

  test('stderr says when a failure came after the task timed out', async () => {
    const spy = stderrSpy();
    const registry = new TaskRegistry();
    const work = deferred();
    registry.spawn('late', () => work.promise, { timeout: 10 });
    await vi.advanceTimersByTimeAsync(10);
    work.reject(new Error('own error'));
    await flush();
    const text = written(spy);
    expect(text).toContain('task "late" (#1, 10 ms old) of task registry failed:\nTimeoutError: task "late"');
    expect(text).toContain(
      'task "late" (#1, 10 ms old) of task registry failed after it timed out:\nError: own error',
    );
  });

  test('a task that ends before its timeout clears its timer and abort listener', async () => {
    const { registry, reports } = collecting();
    const work = deferred<string>();
    const task = registry.spawn('quick', () => work.promise, { timeout: 1_000 });
    expect(vi.getTimerCount()).toBe(1);
    work.resolve('done');
    expect(await task.done).toBe('done');
    expect(vi.getTimerCount()).toBe(0);
    expect(getEventListeners(task.signal, 'abort')).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(task.signal.aborted).toBe(false);
    expect(reports).toEqual([]);
  });

  test('timeout 0 times the task out on the next turn unless it has settled by then', async () => {
    const { registry, reports } = collecting();
    const fast = registry.spawn('fast', async () => 'in time', { timeout: 0 });
    const slow = registry.spawn('slow', (signal) => untilAborted(signal), { timeout: 0 });
    expect(await fast.done).toBe('in time');
    await flush();
    await expect(slow.done).rejects.toBeInstanceOf(TimeoutError);
    expect(reports.map((r) => r.task.name)).toEqual(['slow']);
  });

  test('timeout Infinity is no limit', async () => {
    const { registry } = collecting();
    const task = registry.spawn('forever', (signal) => untilAborted(signal), {
      timeout: Number.POSITIVE_INFINITY,
    });
    expect(vi.getTimerCount()).toBe(0);
    task.cancel();
    await flush();
  });
});

describe('shutdown', () => {
  test('shutdown aborts every task with a ClosedError and reports them cancelled when they stop in time', async () => {
    const { registry, reports } = collecting();
    const a = registry.spawn('deployment-status-updater', (signal) => untilAborted(signal));
    const b = registry.spawn('airlock-status-updater', (signal) => untilAborted(signal));
    const report = await registry.shutdown({ timeout: 1_000 });
    expect(report).toEqual({
      cancelled: ['deployment-status-updater', 'airlock-status-updater'],
      failed: [],
      stragglers: [],
    });
    for (const task of [a, b]) {
      expect(task.signal.reason).toBeInstanceOf(ClosedError);
      await expect(task.done).rejects.toBe(task.signal.reason);
    }
    expect((a.signal.reason as ClosedError).message).toBe(
      'task registry "app" is shutting down: task "deployment-status-updater" (#1) was cancelled',
    );
    expect(reports).toEqual([]); // the registry's own aborts are not failures
    expect(vi.getTimerCount()).toBe(0);
  });

  test('spawn throws ClosedError once shutdown was called, and fn is not called', async () => {
    const { registry } = collecting();
    const shutting = registry.shutdown();
    expect(registry.closed).toBe(true);
    const fn = vi.fn();
    expect(() => registry.spawn('late', fn)).toThrow(ClosedError);
    expect(() => registry.spawn('late', fn)).toThrow(
      'task registry "app" is shut down: cannot spawn task "late"',
    );
    await shutting;
    expect(() => registry.spawn('later', fn)).toThrow(ClosedError);
    expect(fn).not.toHaveBeenCalled();
  });

  test('shutdown of an empty registry resolves at once with an empty report', async () => {
    const registry = new TaskRegistry();
    const report = track(registry.shutdown());
    await flush();
    expect(report).toMatchObject({
      status: 'fulfilled',
      value: { cancelled: [], failed: [], stragglers: [] },
    });
    expect(vi.getTimerCount()).toBe(0);
  });

  test('shutdown resolves at its deadline naming the stragglers that ignored the abort', async () => {
    const { registry, reports } = collecting();
    registry.spawn('polite', (signal) => untilAborted(signal));
    const stuck = deferred();
    registry.spawn('receive-messages', () => stuck.promise);
    const report = track(registry.shutdown({ timeout: 250 }));
    await vi.advanceTimersByTimeAsync(249);
    expect(report.status).toBe('pending');
    expect(registry.list()).toMatchObject([{ name: 'receive-messages', state: 'shutting-down', ageMs: 249 }]);
    await vi.advanceTimersByTimeAsync(1);
    expect(report).toMatchObject({
      status: 'fulfilled',
      value: { cancelled: ['polite'], failed: [], stragglers: ['receive-messages'] },
    });
    expect(registry.size).toBe(1); // still held: it has not settled
    stuck.resolve();
    await flush();
    expect(registry.size).toBe(0);
    expect(reports).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  test('shutdown resolves as soon as the last task settles and clears its deadline timer', async () => {
    const { registry } = collecting();
    const work = deferred();
    registry.spawn('drains', () => work.promise);
    const report = track(registry.shutdown({ timeout: 5_000 }));
    await vi.advanceTimersByTimeAsync(100);
    expect(report.status).toBe('pending');
    work.resolve();
    await flush();
    expect(report).toMatchObject({ status: 'fulfilled', value: { cancelled: ['drains'], stragglers: [] } });
    expect(vi.getTimerCount()).toBe(0);
  });

  test('the default deadline is 10,000 ms', async () => {
    const { registry } = collecting();
    registry.spawn('stuck', () => new Promise(() => {}));
    const report = track(registry.shutdown());
    await vi.advanceTimersByTimeAsync(9_999);
    expect(report.status).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    expect(report).toMatchObject({ status: 'fulfilled', value: { stragglers: ['stuck'] } });
  });

  test('shutdown with timeout Infinity waits for every task; timeout 0 gives them one turn', async () => {
    const { registry } = collecting();
    const work = deferred();
    registry.spawn('slow', () => work.promise);
    const report = track(registry.shutdown({ timeout: Number.POSITIVE_INFINITY }));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(report.status).toBe('pending');
    work.resolve();
    await flush();
    expect(report).toMatchObject({ status: 'fulfilled', value: { cancelled: ['slow'] } });

    const other = collecting().registry;
    other.spawn('reacts', (signal) => untilAborted(signal));
    other.spawn('ignores', () => new Promise(() => {}));
    const quick = track(other.shutdown({ timeout: 0 }));
    await flush();
    expect(quick).toMatchObject({
      status: 'fulfilled',
      value: { cancelled: ['reacts'], stragglers: ['ignores'] },
    });
  });

  test('a task that fails during shutdown is in failed and reported once', async () => {
    const { registry, reports } = collecting();
    const error = new Error('flush failed');
    registry.spawn('flusher', async (signal) => {
      await untilAborted(signal).catch(() => {});
      throw error;
    });
    const report = await registry.shutdown({ timeout: 100 });
    expect(report).toEqual({ cancelled: [], failed: [{ name: 'flusher', error }], stragglers: [] });
    expect(reports).toMatchObject([{ error, task: { name: 'flusher', state: 'shutting-down' } }]);
  });

  test("a straggler's failure after the deadline is still reported, once, and never unhandled", async () => {
    const spy = stderrSpy();
    const registry = new TaskRegistry({ name: 'app' });
    const work = deferred();
    const task = registry.spawn('ignores-abort', () => work.promise);
    const shutdown = track(registry.shutdown({ timeout: 50 }));
    await vi.advanceTimersByTimeAsync(50);
    const report = shutdown.value!;
    expect(report.stragglers).toEqual(['ignores-abort']);
    await vi.advanceTimersByTimeAsync(450);
    work.reject(new Error('late failure'));
    await flush();
    await expect(task.done).rejects.toBeInstanceOf(ClosedError);
    expect(spy).toHaveBeenCalledTimes(1);
    expect(written(spy)).toContain(
      'task "ignores-abort" (#1, 500 ms old) of task registry "app" failed after the shutdown deadline (it ignored the abort):\nError: late failure',
    );
    expect(report.failed).toEqual([]); // the report was given at the deadline and does not change
    expect(registry.size).toBe(0);
  });

  test('stderr says when a failure came during shutdown', async () => {
    const spy = stderrSpy();
    const registry = new TaskRegistry();
    registry.spawn('x', (signal) => untilAborted(signal).catch(() => Promise.reject(new Error('own'))));
    await registry.shutdown({ timeout: 10 }); // the task fails at once, so no time needs to pass
    expect(written(spy)).toContain('failed during shutdown:\nError: own');
  });

  test('tasks already cancelled or timed out keep their reason and are waited for too', async () => {
    const { registry, reports } = collecting();
    const userReason = new Error('user');
    const cancelled = deferred();
    const c = registry.spawn('cancelled-first', () => cancelled.promise);
    c.cancel(userReason);
    const timedOut = registry.spawn(
      'timed-out-first',
      (signal) => untilAborted(signal).catch(() => new Promise(() => {})),
      {
        timeout: 10,
      },
    );
    await vi.advanceTimersByTimeAsync(10);
    const report = track(registry.shutdown({ timeout: 100 }));
    expect(c.signal.reason).toBe(userReason);
    expect(timedOut.signal.reason).toBeInstanceOf(TimeoutError);
    cancelled.reject(userReason);
    await vi.advanceTimersByTimeAsync(100);
    expect(report).toMatchObject({
      status: 'fulfilled',
      value: { cancelled: ['cancelled-first'], failed: [], stragglers: ['timed-out-first'] },
    });
    expect(reports.map((r) => r.task.name)).toEqual(['timed-out-first']); // its timeout, once
  });

  test('shutdown twice returns the same promise and report', async () => {
    const { registry } = collecting();
    registry.spawn('t', (signal) => untilAborted(signal));
    const first = registry.shutdown({ timeout: 100 });
    const second = registry.shutdown({ timeout: 5 });
    expect(second).toBe(first);
    const report = await first;
    expect(registry.shutdown()).toBe(first);
    expect(await registry.shutdown()).toBe(report);
  });

  test('a task whose fn shuts the registry down is aborted and counted like the others', async () => {
    const { registry, reports } = collecting();
    let inner: Promise<unknown> | undefined;
    const task = registry.spawn('self-stopping', (signal) => {
      inner = registry.shutdown({ timeout: 100 });
      return signal.aborted ? Promise.reject(signal.reason) : 'not aborted';
    });
    expect(task.signal.reason).toBeInstanceOf(ClosedError);
    await expect(task.done).rejects.toBeInstanceOf(ClosedError);
    expect(await inner).toEqual({ cancelled: ['self-stopping'], failed: [], stragglers: [] });
    expect(reports).toEqual([]);
  });

  test('await using shuts the registry down at the end of the block', async () => {
    const work = deferred();
    let outside: TaskRegistry;
    {
      await using registry = new TaskRegistry();
      outside = registry;
      registry.spawn('scoped', (signal) => untilAborted(signal).catch(() => work.resolve()));
    }
    expect(outside.closed).toBe(true);
    expect(outside.size).toBe(0);
    await work.promise;
  });
});

describe('references and memory', () => {
  // Collecting garbage needs the real event loop, and gc() exposed from inside the test process.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const turn = () => new Promise((resolve) => setImmediate(resolve));

  test('the registry holds a running task strongly, and drops it once it settles', async () => {
    vi.useRealTimers();
    const registry = new TaskRegistry();
    let running: WeakRef<object> | undefined;
    let finished: WeakRef<object> | undefined;
    let stop!: () => void;
    (() => {
      // Nothing but the registry refers to this task or the promise it waits on.
      running = new WeakRef(
        registry.spawn('unreferenced', () => new Promise<void>((resolve) => (stop = resolve))),
      );
      finished = new WeakRef(registry.spawn('short', async () => 1));
    })();
    await turn();
    gc();
    expect(running!.deref()).toBeDefined(); // unlike asyncio.create_task's weak reference
    expect(finished!.deref()).toBeUndefined();
    stop();
    await turn();
    gc();
    await turn();
    gc();
    expect(running!.deref()).toBeUndefined();
    expect(registry.size).toBe(0);
  });

  test('many short tasks leave the registry empty and the heap flat (bench/registry.ts runs a million)', async () => {
    vi.useRealTimers();
    const registry = new TaskRegistry();
    const batch = async (n: number) => {
      for (let i = 0; i < n; i++) registry.spawn('short', async () => i);
      await turn();
    };
    await batch(20_000); // warm up
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let round = 0; round < 5; round++) await batch(20_000);
    await turn();
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    expect(registry.size).toBe(0);
    expect(registry.list()).toEqual([]);
    // 100,000 tasks held would be tens of MB; a flat heap moves by well under 2 MB.
    expect(grown).toBeLessThan(2 * 1024 * 1024);
  });
});

describe('bad input', () => {
  test('the constructor rejects bad options', () => {
    expect(() => new TaskRegistry(null as never)).toThrow('options must be an object; received null');
    expect(() => new TaskRegistry({ name: 7 as never })).toThrow('options.name must be a string; received 7');
    expect(() => new TaskRegistry({ onError: 'log' as never })).toThrow(
      'options.onError must be a function; received "log"',
    );
  });

  test('spawn throws TypeError or RangeError naming the argument, and starts nothing', () => {
    const registry = new TaskRegistry();
    const fn = vi.fn();
    expect(() => registry.spawn(undefined as never, fn)).toThrow(
      new TypeError('name must be a string; received undefined'),
    );
    expect(() => registry.spawn('x', 'fn' as never)).toThrow(
      new TypeError('fn must be a function; received "fn"'),
    );
    expect(() => registry.spawn('x', fn, 5 as never)).toThrow(
      new TypeError('options must be an object; received 5'),
    );
    expect(() => registry.spawn('x', fn, { timeout: -1 })).toThrow(RangeError);
    expect(() => registry.spawn('x', fn, { timeout: Number.NaN })).toThrow(RangeError);
    expect(() => registry.spawn('x', fn, { timeout: '10' as never })).toThrow(TypeError);
    expect(fn).not.toHaveBeenCalled();
    expect(registry.size).toBe(0);
  });

  test('shutdown with bad options rejects and shuts nothing down', async () => {
    const registry = new TaskRegistry();
    await expect(registry.shutdown({ timeout: -5 })).rejects.toThrow(
      new RangeError('options.timeout must be a number of milliseconds >= 0 (or Infinity); received -5'),
    );
    await expect(registry.shutdown([] as never)).rejects.toBeInstanceOf(TypeError);
    expect(registry.closed).toBe(false);
    expect(registry.spawn('still-open', () => 1).name).toBe('still-open');
  });
});

// Lifecycle in process, on fake timers: the order, the shared budget, idempotence, failures
// reported once, a hung defer abandoned with its signal aborted, and what each kind of resource
// reports as left running. The server and the signals are in server.test.ts and signals.test.ts;
// a whole service on SIGTERM in a child process is sigterm.test.ts.
import { afterEach, beforeEach, describe, expect, type MockInstance, test, vi } from 'vitest';
import { ClosedError, TimeoutError } from '../../src/errors.js';
import { configure } from '../../src/inspect/index.js';
import { Lifecycle, type LifecycleOptions, type Resource } from '../../src/lifecycle/lifecycle.js';
import { formatLifecycleReport } from '../../src/lifecycle/report.js';
import { FORCE_GRACE_MS } from '../../src/lifecycle/run.js';
import { WorkerPool } from '../../src/pool/index.js';
import { BoundedQueue } from '../../src/queue/queue.js';
import { TaskRegistry } from '../../src/registry/registry.js';
import { Semaphore } from '../../src/semaphore/semaphore.js';
import { deferred, track } from '../support/promises.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  configure({ captureOrigins: false });
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const flush = () => vi.advanceTimersByTimeAsync(0);

function stderrSpy(): MockInstance {
  return vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
}

/** A lifecycle whose failures are collected instead of printed. */
function collecting(options: LifecycleOptions = {}) {
  const failures: Array<{ error: unknown; resource: string }> = [];
  const life = new Lifecycle({
    name: 'test',
    onError: (error, resource) => failures.push({ error, resource }),
    ...options,
  });
  return { life, failures };
}

/** A cleanup that takes `ms` and records when it ran. */
function takes(ms: number, log: string[], name: string) {
  return async (signal: AbortSignal) => {
    log.push(name);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });
  };
}

describe('order and budget', () => {
  test('resources are stopped in the reverse order of registration, each once, defers among them', async () => {
    const { life } = collecting();
    const log: string[] = [];
    life.use({ close: () => log.push('db') });
    life.defer(() => log.push('deregister'), { name: 'deregister' });
    life.use({ shutdown: () => log.push('cache') });
    life.use({
      [Symbol.asyncDispose]: async () => {
        log.push('client');
      },
    });
    const report = await life.shutdown();
    expect(log).toEqual(['client', 'cache', 'deregister', 'db']);
    expect(report.steps.map((s) => s.name)).toEqual(['Object', 'Object', 'deregister', 'Object']);
    expect(report.steps.every((s) => s.outcome === 'stopped')).toBe(true);
    expect(report.clean).toBe(true);
  });

  test('each step waits for the one before it: the next starts only when the last has stopped', async () => {
    const { life } = collecting();
    const log: string[] = [];
    const first = deferred();
    life.defer(() => log.push('second'));
    life.defer(async () => {
      log.push('first');
      await first.promise;
    });
    const report = track(life.shutdown());
    await flush();
    expect(log).toEqual(['first']);
    first.resolve();
    await flush();
    expect(log).toEqual(['first', 'second']);
    expect(report.status).toBe('fulfilled');
  });

  test('the budget is shared: each step is given what is left, and the last ones get nothing once it is spent', async () => {
    const { life } = collecting({ timeout: 1_000 });
    const log: string[] = [];
    const registry = life.use(new TaskRegistry({ name: 'bg', onError: () => {} }));
    registry.spawn('ignores-abort', () => new Promise((resolve) => setTimeout(resolve, 60_000)));
    life.defer(takes(10_000, log, 'c'), { name: 'c' }); // would take 10 s: cut at the deadline
    life.defer(takes(500, log, 'b'), { name: 'b' });
    life.defer(takes(300, log, 'a'), { name: 'a' });
    const report = track(life.shutdown());
    await vi.advanceTimersByTimeAsync(1_000);
    expect(report.status).toBe('pending'); // the grace for what was forced
    await vi.advanceTimersByTimeAsync(FORCE_GRACE_MS);
    expect(report.status).toBe('fulfilled');
    const { steps, elapsed, stragglers, clean } = report.value!;
    expect(log).toEqual(['a', 'b', 'c']);
    expect(steps.map(({ name, budget, elapsed: ms }) => [name, budget, ms])).toEqual([
      ['a', 1_000, 300],
      ['b', 700, 500],
      ['c', 200, 200], // aborted at the deadline, and settled at once
      ['task registry "bg"', 0, 1], // started with nothing left: aborted; its report a timer turn later
    ]);
    expect(steps.map((s) => s.outcome)).toEqual(['stopped', 'stopped', 'stopped', 'left-running']);
    expect(elapsed).toBe(1_001); // the registry's report came a timer turn after the deadline
    expect(clean).toBe(false);
    expect(stragglers.map((s) => [s.name, s.running.map((w) => w.what)])).toEqual([
      ['task registry "bg"', ['"ignores-abort"']],
    ]);
  });

  test('a pool with the whole budget left drains its queued tasks before it stops', async () => {
    const { life } = collecting({ timeout: 1_000 });
    const pool = life.use(new WorkerPool({ concurrency: 1, name: 'drains' }));
    const ran: number[] = [];
    const runs = [1, 2, 3].map((n) =>
      track(pool.run(() => new Promise<void>((resolve) => setTimeout(() => resolve(void ran.push(n)), 100)))),
    );
    const report = life.shutdown();
    await vi.advanceTimersByTimeAsync(300);
    expect((await report).clean).toBe(true);
    expect(ran).toEqual([1, 2, 3]);
    expect(runs.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    expect((await report).steps[0]).toMatchObject({
      name: 'pool "drains"',
      elapsed: 300,
      outcome: 'stopped',
    });
  });

  test('a pool out of budget cancels what is queued, aborts what runs, and names the task that ignored it', async () => {
    configure({ captureOrigins: true });
    const { life } = collecting({ timeout: 200 });
    const pool = life.use(new WorkerPool({ concurrency: 1, name: 'stuck' }));
    const stuck = track(pool.run(() => new Promise(() => {}))); // ignores its signal
    const queued = track(pool.run(() => 'never'));
    const report = track(life.shutdown());
    await vi.advanceTimersByTimeAsync(200 + FORCE_GRACE_MS);
    expect(stuck.reason).toBeInstanceOf(ClosedError);
    expect(queued.reason).toBeInstanceOf(ClosedError);
    const [straggler] = report.value!.stragglers;
    expect(straggler!.name).toBe('pool "stuck"');
    expect(straggler!.summary).toMatch(/1 in use.*1 abandoned/);
    expect(straggler!.running.map((w) => [w.what, w.state])).toEqual([['task', 'abandoned']]);
    expect(straggler!.running[0]!.origin[0]).toMatch(/lifecycle\.test\.ts/); // the line that ran it
  });
});

describe('a shutdown that ends whatever the resources do', () => {
  test('a hung defer is abandoned: its signal aborts at the deadline and it is named, within the budget plus the grace', async () => {
    const { life } = collecting({ timeout: 500 });
    let seen: AbortSignal | undefined;
    const before = vi.fn();
    life.use({ close: before }); // registered first: stopped after the hung one, with no time left
    life.defer(
      (signal) => {
        seen = signal;
        return new Promise(() => {}); // never settles, ignores its signal
      },
      { name: 'hangs' },
    );
    const report = track(life.shutdown());
    await vi.advanceTimersByTimeAsync(499);
    expect(seen!.aborted).toBe(false);
    expect(before).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(seen!.aborted).toBe(true);
    expect(seen!.reason).toBeInstanceOf(TimeoutError);
    expect(seen!.reason.message).toBe('lifecycle "test" spent its 500 ms shutdown budget');
    expect(before).toHaveBeenCalledTimes(1); // started at once, with nothing left
    await vi.advanceTimersByTimeAsync(FORCE_GRACE_MS - 1);
    expect(report.status).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    expect(report.status).toBe('fulfilled');
    const value = report.value!;
    expect(value.elapsed).toBe(500 + FORCE_GRACE_MS);
    expect(value.clean).toBe(false);
    expect(value.steps.map((s) => [s.name, s.budget, s.outcome])).toEqual([
      ['hangs', 500, 'left-running'],
      ['Object', 0, 'stopped'],
    ]);
    expect(value.stragglers).toEqual([
      {
        name: 'hangs',
        summary: 'its stop had not settled',
        running: [expect.objectContaining({ what: 'hangs', state: 'running', age: 500 + FORCE_GRACE_MS })],
      },
    ]);
    expect(vi.getTimerCount()).toBe(0); // the deadline and the grace timers are gone
  });

  test('a budget of 0 stops everything at once, all together, and still reports within the grace', async () => {
    const { life } = collecting({ timeout: 0 });
    const log: string[] = [];
    life.defer(takes(50, log, 'b'), { name: 'b' });
    life.defer(takes(50, log, 'a'), { name: 'a' });
    const report = track(life.shutdown());
    await flush();
    expect(log).toEqual(['a', 'b']);
    await vi.advanceTimersByTimeAsync(FORCE_GRACE_MS);
    expect(report.value!.steps.map((s) => [s.name, s.budget, s.outcome])).toEqual([
      ['a', 0, 'stopped'],
      ['b', 0, 'stopped'],
    ]);
  });

  test('shutdown is idempotent: later calls return the same promise, and nothing is stopped twice', async () => {
    const { life } = collecting();
    const close = vi.fn();
    life.use({ close });
    const first = life.shutdown();
    expect(life.shutdown()).toBe(first);
    const report = await first;
    expect(life.shutdown()).toBe(first);
    expect(await life.shutdown()).toBe(report);
    await life[Symbol.asyncDispose]();
    expect(close).toHaveBeenCalledTimes(1);
  });

  test('state is running, then stopping from the call to shutdown(), then stopped once it has reported', async () => {
    const { life } = collecting();
    const gate = deferred();
    const states: string[] = [];
    life.defer(async () => {
      states.push(life.state);
      await gate.promise;
    });
    expect(life.state).toBe('running');
    const report = life.shutdown();
    expect(life.state).toBe('stopping');
    gate.resolve();
    await report;
    expect(states).toEqual(['stopping']);
    expect(life.state).toBe('stopped');
  });

  test('a resource that shuts the lifecycle down from its own stop gets the same report', async () => {
    const { life } = collecting();
    let inner: Promise<unknown> | undefined;
    life.defer(() => {
      inner = life.shutdown();
    });
    const report = await life.shutdown();
    expect(await inner).toBe(report);
  });

  test('use, defer and handleSignals after shutdown throw ClosedError and register nothing', async () => {
    const { life } = collecting();
    await life.shutdown();
    const close = vi.fn();
    expect(() => life.use({ close })).toThrow(ClosedError);
    expect(() => life.defer(close)).toThrow(/lifecycle "test" is stopped: cannot defer\(\)/);
    expect(() => life.handleSignals({ exit: close })).toThrow(ClosedError);
    expect(process.listenerCount('SIGTERM')).toBe(0);
    expect(close).not.toHaveBeenCalled();
  });

  test('using a resource twice registers it once', async () => {
    const { life } = collecting();
    const close = vi.fn();
    const resource = { close };
    expect(life.use(resource)).toBe(resource);
    expect(life.use(resource, { name: 'again' })).toBe(resource);
    const report = await life.shutdown();
    expect(close).toHaveBeenCalledTimes(1);
    expect(report.steps).toHaveLength(1);
  });
});

describe('failures', () => {
  test('a throwing and a rejecting resource are each reported once, in the report, and the others are still stopped', async () => {
    const { life, failures } = collecting();
    const thrown = new Error('close threw');
    const rejected = new Error('quit rejected');
    const last = vi.fn();
    life.use({ close: last }, { name: 'last' });
    life.use(
      {
        close() {
          throw thrown;
        },
      },
      { name: 'throws' },
    );
    life.defer(() => Promise.reject(rejected), { name: 'rejects' });
    const report = await life.shutdown();
    expect(last).toHaveBeenCalledTimes(1);
    expect(failures).toEqual([
      { error: rejected, resource: 'rejects' },
      { error: thrown, resource: 'throws' },
    ]);
    expect(report.failed).toEqual([
      { name: 'rejects', error: rejected },
      { name: 'throws', error: thrown },
    ]);
    expect(report.steps.map((s) => s.outcome)).toEqual(['failed', 'failed', 'stopped']);
    expect(report.clean).toBe(false);
    await flush();
    expect(failures).toHaveLength(2);
  });

  test('without onError, a failure goes to stderr once, with the lifecycle and the resource named', async () => {
    const spy = stderrSpy();
    const life = new Lifecycle({ name: 'api' });
    life.defer(() => Promise.reject(new Error('redis quit failed')), { name: 'redis' });
    const report = await life.shutdown();
    const text = spy.mock.calls.map((c) => String(c[0])).join('');
    expect(text.match(/redis quit failed/g)).toHaveLength(1);
    expect(text).toMatch(
      /^unwedge: lifecycle "api": stopping redis failed: Error: redis quit failed\n {4}at /,
    );
    expect(report.failed).toHaveLength(1);
  });

  test('a failure after the report (a hung stop that rejects later) is reported once and leaves the report as it was', async () => {
    const { life, failures } = collecting({ timeout: 100 });
    const late = deferred();
    life.defer(() => late.promise, { name: 'late' });
    const report = track(life.shutdown());
    await vi.advanceTimersByTimeAsync(100 + FORCE_GRACE_MS);
    expect(report.value!.failed).toEqual([]);
    const error = new Error('too late');
    late.reject(error);
    await flush();
    expect(failures).toEqual([{ error, resource: 'late' }]);
    expect(report.value!.failed).toEqual([]);
  });

  test('a registry task that fails as it stops is in the report (the registry reported it)', async () => {
    const { life, failures } = collecting();
    const registryErrors: unknown[] = [];
    const registry = life.use(
      new TaskRegistry({ name: 'bg', onError: (error) => registryErrors.push(error) }),
    );
    const boom = new Error('failed while stopping');
    registry.spawn(
      'flaky',
      (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(boom))),
    );
    const report = await life.shutdown();
    expect(report.failed).toEqual([{ name: 'task registry "bg": task "flaky"', error: boom }]);
    expect(registryErrors).toEqual([boom]);
    expect(failures).toEqual([]); // not told twice
    expect(report.steps[0]!.outcome).toBe('failed');
  });
});

describe('what use() accepts', () => {
  test.each([
    [5, '5'],
    [null, 'null'],
    ['server', '"server"'],
    [{}, 'an object'],
    [{ close: true }, 'an object'],
  ])('use(%s) is a TypeError at once, registering nothing', async (value, shown) => {
    const { life } = collecting();
    expect(() => life.use(value as never)).toThrow(
      new TypeError(
        'resource must be a net/http Server, a pool, TaskRegistry, BoundedQueue or its consumer, ' +
          'RedisSemaphore or inspect watcher, or have Symbol.asyncDispose, close(), quit(), stop(), ' +
          `shutdown() or Symbol.dispose; received ${shown}`,
      ),
    );
    expect((await life.shutdown()).steps).toEqual([]);
  });

  test('use(a function) says to defer() it', () => {
    const { life } = collecting();
    expect(() => life.use((() => {}) as never)).toThrow(/\(to run a function at shutdown, use defer\(\)\)/);
  });

  test('the language protocol comes first, then close(), quit(), stop(), shutdown(), Symbol.dispose: a client with quit() is never sent shutdown()', async () => {
    const { life } = collecting();
    const called: string[] = [];
    const all = (...keys: Array<string | symbol>) =>
      Object.fromEntries(keys.map((k) => [k, () => called.push(String(k))])) as unknown as Resource;
    life.use(all('shutdown', Symbol.dispose));
    life.use(all('stop', 'shutdown', Symbol.dispose));
    life.use(all('quit', 'stop', 'shutdown')); // an ioredis client: shutdown() would stop the server
    life.use(all('close', 'quit', 'shutdown'));
    life.use(all(Symbol.asyncDispose, 'close', 'shutdown'));
    life.use(all(Symbol.dispose));
    await life.shutdown();
    expect(called).toEqual([
      String(Symbol.dispose),
      String(Symbol.asyncDispose),
      'close',
      'quit',
      'stop',
      'shutdown',
    ]);
  });

  test('a Semaphore is refused with why: it runs nothing of its own to stop', () => {
    const { life } = collecting();
    expect(() => life.use(new Semaphore(2) as never)).toThrow(
      /\(a Semaphore runs nothing of its own to stop: register the pools and tasks that hold its permits\); received an instance of Semaphore$/,
    );
  });

  test('a resource with a name is named by it, and a nested lifecycle is shut down in its turn', async () => {
    const { life } = collecting();
    const inner = new Lifecycle({ name: 'inner' });
    const close = vi.fn();
    inner.use({ close });
    life.use(inner);
    class Client {
      readonly name = 'primary';
      close() {}
    }
    life.use(new Client());
    life.defer(function flushLogs() {});
    life.defer(() => {});
    const report = await life.shutdown();
    expect(report.steps.map((s) => s.name)).toEqual([
      'defer #2',
      'defer "flushLogs"',
      'Client "primary"',
      'Lifecycle "inner"',
    ]);
    expect(inner.state).toBe('stopped');
    expect(close).toHaveBeenCalledTimes(1);
  });

  test('a queue drains through its consumer within the budget, then both are stopped', async () => {
    const { life } = collecting({ timeout: 1_000 });
    const queue = life.use(new BoundedQueue<number>({ capacity: 10, name: 'jobs' }));
    const handled: number[] = [];
    life.use(
      queue.consume(async (n) => {
        await new Promise((resolve) => setTimeout(resolve, 100));
        handled.push(n);
      }),
    );
    for (const n of [1, 2, 3]) queue.tryPut(n);
    const report = track(life.shutdown());
    expect(queue.closed).toBe(true); // no new items from the moment the shutdown starts
    await vi.advanceTimersByTimeAsync(300);
    expect(handled).toEqual([1, 2, 3]);
    expect(report.value!.steps.map((s) => [s.name, s.outcome])).toEqual([
      ['consumer of queue "jobs"', 'stopped'],
      ['queue "jobs"', 'stopped'],
    ]);
  });

  test('a queue that cannot drain in time drops what is left and says how much, and its stuck handler is named', async () => {
    const { life } = collecting({ timeout: 200 });
    const queue = life.use(new BoundedQueue<number>({ capacity: 10, name: 'stuck-jobs' }));
    life.use(queue.consume(() => new Promise(() => {}))); // a handler that hangs
    for (const n of [1, 2, 3]) queue.tryPut(n);
    const report = track(life.shutdown());
    await vi.advanceTimersByTimeAsync(200 + FORCE_GRACE_MS);
    expect(queue.size).toBe(0); // dropped
    expect(report.value!.stragglers.map((s) => [s.name, s.summary])).toEqual([
      ['consumer of queue "stuck-jobs"', '1 handler running (1 aborted)'],
      [
        'queue "stuck-jobs"',
        expect.stringMatching(
          /^0\/10 queued, 1 taken and not done.*; 2 items dropped at the deadline, never handled$/,
        ),
      ],
    ]);
  });
  test('a consumer registered without its queue names the items it never took: dropped work is no clean shutdown', async () => {
    const { life } = collecting({ timeout: 200 });
    const queue = new BoundedQueue<number>({ capacity: 10, name: 'transcribe' });
    life.use(queue.consume(() => new Promise(() => {}), { concurrency: 2 })); // both handlers hang
    for (const n of [1, 2, 3, 4, 5]) queue.tryPut(n);
    await flush();
    const report = track(life.shutdown());
    await vi.advanceTimersByTimeAsync(200 + FORCE_GRACE_MS);
    expect(queue.size).toBe(3); // closed, never taken: still there, and said so
    expect(report.value!.clean).toBe(false);
    expect(report.value!.stragglers.map((s) => [s.name, s.summary])).toEqual([
      [
        'consumer of queue "transcribe"',
        '2 handlers running (2 aborted), 3 items left in the queue, never handled',
      ],
    ]);
  });
  test('a queue registered with its consumer names what the deadline dropped, once the queue is empty: dropped work is no clean shutdown', async () => {
    const { life } = collecting({ timeout: 200 });
    const queue = life.use(new BoundedQueue<number>({ capacity: 10, name: 'both' }));
    let finish!: () => void;
    life.use(queue.consume(() => new Promise<void>((resolve) => (finish = resolve)))); // slow, not hung
    for (const n of [1, 2, 3, 4]) queue.tryPut(n);
    await flush();
    const report = track(life.shutdown());
    await vi.advanceTimersByTimeAsync(200);
    finish(); // the handler ends with the deadline: nothing runs any more
    await vi.advanceTimersByTimeAsync(FORCE_GRACE_MS);
    expect(queue.unfinished).toBe(0);
    expect(report.value!.clean).toBe(false);
    expect(report.value!.stragglers.map((s) => [s.name, s.summary])).toEqual([
      ['queue "both"', '3 items dropped at the deadline, never handled'],
    ]);
  });
});

describe('what the report says of what inspect() does not list', () => {
  test('a pool the inspector does not know (a front over a pool of its own) is described by its counts', async () => {
    const { life } = collecting({ timeout: 100 });
    let closed = false;
    const front = {
      run: () => Promise.resolve(),
      idle: () => new Promise<void>(() => {}), // its task never ends
      shutdown: () => {
        closed = true;
        return Promise.resolve({ cancelled: 1, aborted: 1, stillRunning: 1 });
      },
      active: 1,
      queued: 0,
      abandoned: 1,
    };
    life.use(front as never, { name: 'front' });
    const report = track(life.shutdown());
    await vi.advanceTimersByTimeAsync(100 + FORCE_GRACE_MS);
    expect(closed).toBe(true);
    expect(report.value!.stragglers).toEqual([
      { name: 'front', summary: '1 running (1 abandoned), 0 queued', running: [] },
    ]);
  });

  test('a consumer reached after the budget was spent aborts its handlers at once; those that ignore it are counted', async () => {
    const { life } = collecting({ timeout: 50 });
    const queue = new BoundedQueue<number>({ capacity: 10 });
    const consumer = life.use(
      queue.consume(() => new Promise(() => {}), { concurrency: 2, onError: () => {} }),
    );
    life.defer(() => new Promise(() => {}), { name: 'hangs' }); // stopped first: holds the whole budget
    queue.tryPut(1);
    queue.tryPut(2);
    await flush();
    expect(consumer.active).toBe(2);
    const report = track(life.shutdown());
    await vi.advanceTimersByTimeAsync(50);
    expect(consumer.abandoned).toBe(2); // stopped at the deadline, with nothing left
    await vi.advanceTimersByTimeAsync(FORCE_GRACE_MS);
    expect(report.value!.stragglers.map((s) => [s.name, s.summary])).toEqual([
      ['hangs', 'its stop had not settled'],
      ['consumer of queue', '2 handlers running (2 aborted)'],
    ]);
  });

  test('a resource without a class or a name is called resource; a failure that is no Error is shown as inspect shows it', async () => {
    const { life } = collecting();
    const bare = Object.assign(Object.create(null), { close: () => Promise.reject('quit: connection lost') });
    life.use(bare);
    const report = await life.shutdown();
    expect(report.failed).toEqual([{ name: 'resource', error: 'quit: connection lost' }]);
    expect(formatLifecycleReport(report)).toContain("failed: resource: 'quit: connection lost'\n");
  });
});

test('formatLifecycleReport: the whole, each step with its budget, the stragglers with their waits, the failures', async () => {
  const { life } = collecting({ timeout: 100 });
  life.defer(() => new Promise(() => {}), { name: 'hangs' });
  life.defer(() => Promise.reject(new TypeError('bad')), { name: 'fails' });
  const report = track(life.shutdown());
  await vi.advanceTimersByTimeAsync(100 + FORCE_GRACE_MS);
  expect(formatLifecycleReport(report.value!)).toBe(
    [
      'unwedge: lifecycle "test" shut down in 200 ms (budget 100 ms): 1 resource left running, 1 failure',
      '  fails  failed       0 ms of 100 ms',
      '  hangs  left-running 200 ms of 100 ms',
      'still running in hangs: its stop had not settled',
      '  200 ms  [running] hangs (no timeout)',
      'failed: fails: TypeError: bad',
      '',
    ].join('\n'),
  );
  const clean = await new Lifecycle().shutdown();
  expect(formatLifecycleReport(clean)).toBe(
    'unwedge: lifecycle shut down in 0 ms (budget 10000 ms): clean\n',
  );
});

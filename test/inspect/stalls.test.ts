// watchStalls: each wait past the threshold reported once, and once more when it ends.
import { describe, expect, test, vi } from 'vitest';
import { register, unregister } from '../../src/core/live.js';
import { ClosedError, TimeoutError } from '../../src/errors.js';
import { configure, type Stall, watchStalls, writeStall } from '../../src/inspect/index.js';
import { WorkerPool } from '../../src/pool/index.js';
import { BoundedQueue } from '../../src/queue/queue.js';
import { Semaphore } from '../../src/semaphore/semaphore.js';
import { withTimeout } from '../../src/timeout.js';
import { find, flush, onFakeTimeWithDefaults } from '../support/inspect.js';
import { activeResources, leakedSince } from '../support/leaks.js';
import { deferred, track } from '../support/promises.js';

onFakeTimeWithDefaults();

describe('watchStalls', () => {
  /** Keeps the reports of this test's own waits: a watcher sees every wait in the process. */
  const mine = (into: Stall[]) => (s: Stall) => {
    if (`${s.name} ${s.what}`.includes('stall-')) into.push(s);
  };

  test('a task that changes state while stalled ends its first report before the second: one open report per wait', async () => {
    const stalls: Stall[] = [];
    const pool = new WorkerPool({ concurrency: 1, name: 'stall-pool', onError: () => {} });
    using _watch = watchStalls({ threshold: 1_000, interval: 100, onStall: mine(stalls) });
    const hung = deferred<never>();
    const run = track(pool.run(() => hung.promise, { timeout: 1_500 })); // ignores its signal
    await vi.advanceTimersByTimeAsync(1_000);
    await vi.advanceTimersByTimeAsync(600); // its run timeout abandons it at 1,500 ms
    expect(run.reason).toBeInstanceOf(TimeoutError);
    hung.reject(new Error('late'));
    await vi.advanceTimersByTimeAsync(100);
    expect(stalls.map((s) => [s.phase, s.state, s.age])).toEqual([
      ['stalled', 'running', 1_000],
      ['ended', 'running', 1_600],
      ['stalled', 'abandoned', 1_600],
      ['ended', 'abandoned', 1_700],
    ]);
  });

  test('filter leaves chosen waits out, their ends too, and is asked once per wait and state', async () => {
    const stalls: Stall[] = [];
    const asked: string[] = [];
    const queue = new BoundedQueue<number>({ capacity: 1, name: 'stall-filtered' });
    const sem = new Semaphore(1, { name: 'stall-kept' });
    const held = await sem.acquire();
    using _watch = watchStalls({
      threshold: 200,
      interval: 50,
      onStall: mine(stalls),
      filter: (s) => {
        if (`${s.name}`.startsWith('stall-')) asked.push(`${s.name} ${s.what}`);
        return !(s.kind === 'queue' && s.what === 'get'); // an idle consumer is no stall
      },
    });
    const get = track(queue.get());
    const acquire = track(sem.acquire());
    await vi.advanceTimersByTimeAsync(1_000);
    await queue.put(1);
    held.release();
    await flush();
    expect([get.value, acquire.status]).toEqual([1, 'fulfilled']);
    expect(asked).toEqual(['stall-filtered get', 'stall-kept acquire 1 permit']);
    expect(stalls.map((s) => [s.phase, s.name])).toEqual([
      ['stalled', 'stall-kept'],
      ['ended', 'stall-kept'],
    ]);
  });

  test('a filter that throws is reported on stderr, and the stall is reported anyway', async () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const stalls: Stall[] = [];
    const sem = new Semaphore(1, { name: 'stall-filter-throws' });
    const held = await sem.acquire();
    using _watch = watchStalls({
      threshold: 100,
      interval: 50,
      onStall: mine(stalls),
      filter: () => {
        throw new Error('filter broke');
      },
    });
    const acquire = track(sem.acquire());
    await vi.advanceTimersByTimeAsync(100);
    expect(stalls.map((s) => s.name)).toEqual(['stall-filter-throws']);
    expect(write).toHaveBeenCalledWith(
      'unwedge: watchStalls filter threw (the stall is reported): Error: filter broke\n',
    );
    held.release();
    await flush();
    expect(acquire.status).toBe('fulfilled');
  });

  test('a snapshot that throws is reported on stderr, and the watcher goes on', async () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const broken = { kind: 'broken' };
    const token = register(broken, () => {
      throw new Error('describe broke');
    });
    try {
      using _watch = watchStalls({ threshold: 100, interval: 50, onStall: () => {} });
      await vi.advanceTimersByTimeAsync(100);
      expect(write).toHaveBeenCalledWith(
        'unwedge: watchStalls could not take a snapshot: Error: describe broke\n',
      );
    } finally {
      unregister(token);
    }
  });

  test('reports each wait past the threshold exactly once, and once more when it ends, with how long it took', async () => {
    const stalls: Stall[] = [];
    const sem = new Semaphore(1, { name: 'stall-sem' });
    const held = await sem.acquire();
    using _watch = watchStalls({ threshold: 1_000, interval: 100, onStall: mine(stalls) });
    const waiting = track(sem.acquire({ timeout: 60_000 }));
    await vi.advanceTimersByTimeAsync(900);
    expect(stalls).toEqual([]);
    await vi.advanceTimersByTimeAsync(100);
    expect(stalls).toEqual([
      {
        phase: 'stalled',
        kind: 'semaphore',
        name: 'stall-sem',
        what: 'acquire 1 permit',
        state: 'waiting',
        age: 1_000,
        ageIsLowerBound: false,
        timeout: 60_000,
        outcome: undefined,
        origin: [],
      },
    ]);
    await vi.advanceTimersByTimeAsync(5_000); // fifty more ticks: no second report
    expect(stalls).toHaveLength(1);
    held.release();
    await flush();
    expect(waiting.status).toBe('fulfilled');
    expect(stalls).toHaveLength(2);
    expect(stalls[1]).toMatchObject({
      phase: 'ended',
      what: 'acquire 1 permit',
      age: 6_000,
      outcome: 'granted',
    });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(stalls).toHaveLength(2);
  });

  test('a wait that ends before the threshold is never reported', async () => {
    const stalls: Stall[] = [];
    const q = new BoundedQueue<number>({ capacity: 1, name: 'stall-quick' });
    const watch = watchStalls({ threshold: 500, onStall: mine(stalls) });
    const get = track(q.get());
    await vi.advanceTimersByTimeAsync(400);
    await q.put(7);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(get.value).toBe(7);
    expect(stalls).toEqual([]);
    watch.stop();
  });

  test('per-call work started while a watcher runs has an exact age; its end comes with the outcome', async () => {
    const stalls: Stall[] = [];
    const watch = watchStalls({ threshold: 300, interval: 50, onStall: mine(stalls) });
    const call = track(withTimeout(new Promise(() => {}), 1_000, { name: 'stall-call' }));
    await vi.advanceTimersByTimeAsync(300);
    expect(stalls).toMatchObject([
      { phase: 'stalled', kind: 'withTimeout', what: '"stall-call"', age: 300, ageIsLowerBound: false },
    ]);
    await vi.advanceTimersByTimeAsync(700);
    expect(call.reason).toBeInstanceOf(TimeoutError);
    expect(stalls[1]).toMatchObject({ phase: 'ended', age: 1_000, outcome: 'timeout' });
    watch.stop();
  });

  test('a task that leaves a registered primitive without a hook is reported ended at the next look', async () => {
    // What a pool or registry registering through core/track does: its tasks have no wait hook.
    const stalls: Stall[] = [];
    const tasks = new Set<object>();
    const since = performance.now();
    const owner = { tasks };
    const token = register(owner, (o, sample) => {
      sample.take(
        o.tasks,
        () => since,
        (key) => ({ key, what: 'task "sync"', since, state: 'running' }),
      );
      return { kind: 'registry', name: 'stall-registry', summary: `${o.tasks.size} tasks`, stats: {} };
    });
    const task = {};
    tasks.add(task);
    const watch = watchStalls({ threshold: 200, interval: 100, onStall: mine(stalls) });
    await vi.advanceTimersByTimeAsync(200);
    expect(stalls).toMatchObject([{ phase: 'stalled', kind: 'registry', state: 'running', age: 200 }]);
    tasks.delete(task);
    await vi.advanceTimersByTimeAsync(100);
    expect(stalls[1]).toMatchObject({ phase: 'ended', age: 300, outcome: undefined });
    watch.stop();
    unregister(token);
    expect(find('registry', 'stall-registry')).toBeUndefined();
  });

  test('the default report goes to stderr with the origin below it', async () => {
    configure({ captureOrigins: true });
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const q = new BoundedQueue<number>({ capacity: 1, name: 'stall-stderr' });
    await q.put(1);
    const watch = watchStalls({ threshold: 1_000 });
    const put = track(q.put(2));
    await vi.advanceTimersByTimeAsync(1_000);
    const text = write.mock.calls
      .map(([chunk]) => String(chunk))
      .filter((chunk) => chunk.includes('stall-stderr'))
      .join('');
    expect(text).toMatch(
      /^unwedge: stalled: queue "stall-stderr" put \(no timeout\) has waited 1000 ms\n {4}at .*test\/inspect\/stalls\.test\.ts:\d+/,
    );
    expect(q.tryGet()).toBe(1); // frees a slot: the parked put goes in
    await flush();
    expect(put.status).toBe('fulfilled');
    expect(write.mock.calls.map(([chunk]) => String(chunk))).toContain(
      'unwedge: stall ended: queue "stall-stderr" put (no timeout) after 1000 ms (granted)\n',
    );
    watch.stop();
  });

  test('an onStall that throws is reported and the watcher goes on', async () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const q = new BoundedQueue<number>({ capacity: 1, name: 'stall-throws' });
    const calls: string[] = [];
    const watch = watchStalls({
      threshold: 100,
      onStall: (s) => {
        if (s.name !== 'stall-throws') return;
        calls.push(s.phase);
        throw new Error('hook broke');
      },
    });
    const get = track(q.get());
    await vi.advanceTimersByTimeAsync(100);
    q.close();
    await flush();
    expect(get.reason).toBeInstanceOf(ClosedError);
    expect(calls).toEqual(['stalled', 'ended']);
    expect(String(write.mock.calls[0]?.[0])).toBe('unwedge: watchStalls onStall threw: Error: hook broke\n');
    watch.stop();
  });

  test('two watchers report independently; stopping one leaves the other', async () => {
    const a: Stall[] = [];
    const b: Stall[] = [];
    const first = watchStalls({ threshold: 100, interval: 50, onStall: mine(a) });
    const second = watchStalls({ threshold: 100, interval: 50, onStall: mine(b) });
    const q = new BoundedQueue<number>({ capacity: 1, name: 'stall-two' });
    const get = track(q.get());
    await vi.advanceTimersByTimeAsync(100);
    first.stop();
    await q.put(1);
    await flush();
    expect(get.value).toBe(1);
    expect(a.map((s) => s.phase)).toEqual(['stalled']);
    expect(b.map((s) => s.phase)).toEqual(['stalled', 'ended']);
    second.stop();
  });

  test('the default report of an end noticed by absence says it ended', () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    writeStall({
      phase: 'ended',
      kind: 'registry',
      name: 'app',
      what: 'task "sync"',
      state: 'running',
      age: 1_234,
      ageIsLowerBound: true,
      timeout: undefined,
      outcome: undefined,
      origin: [],
    });
    expect(write).toHaveBeenCalledWith(
      'unwedge: stall ended: registry "app" [running] task "sync" (no timeout) after >=1234 ms (ended)\n',
    );
  });

  test('stop() removes its timer and is idempotent; a stopped watcher reports nothing', async () => {
    const before = vi.getTimerCount();
    const stalls: Stall[] = [];
    const watch = watchStalls({ threshold: 100, onStall: mine(stalls) });
    expect(vi.getTimerCount()).toBe(before + 1);
    watch.stop();
    watch.stop();
    expect(vi.getTimerCount()).toBe(before);
    const disposed = watchStalls({ threshold: 100 });
    disposed[Symbol.dispose]();
    expect(vi.getTimerCount()).toBe(before);
    const q = new BoundedQueue<number>({ capacity: 1, name: 'stall-stopped' });
    const get = track(q.get());
    await vi.advanceTimersByTimeAsync(1_000);
    q.close();
    await flush();
    expect(get.status).toBe('rejected');
    expect(stalls).toEqual([]);
  });

  test('its timer never keeps the process alive', () => {
    vi.useRealTimers();
    const baseline = activeResources();
    const watch = watchStalls({ threshold: 1_000 });
    try {
      expect(leakedSince(baseline)).toEqual([]); // an unref'd timer is not a leak
    } finally {
      watch.stop();
    }
  });

  test('rejects bad options', () => {
    expect(() => watchStalls(undefined as unknown as { threshold: number })).toThrow(TypeError);
    expect(() => watchStalls({} as { threshold: number })).toThrow(
      new TypeError('options.threshold must be a finite number of milliseconds > 0; received undefined'),
    );
    expect(() => watchStalls({ threshold: 0 })).toThrow(RangeError);
    expect(() => watchStalls({ threshold: Number.POSITIVE_INFINITY })).toThrow(RangeError);
    expect(() => watchStalls({ threshold: 10, interval: -1 })).toThrow(RangeError);
    expect(() => watchStalls({ threshold: 10, onStall: 'x' as unknown as () => void })).toThrow(TypeError);
  });
});

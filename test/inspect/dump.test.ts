// inspect() and formatInspect(): what the dump shows of each kind of primitive, as data and as text.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, test, vi } from 'vitest';
import { ClosedError, TimeoutError } from '../../src/errors.js';
import { fanOut } from '../../src/fan-out/fan-out.js';
import { fanOutIterable } from '../../src/fan-out/iterable.js';
import { configure, formatInspect, type InspectReport, inspect } from '../../src/inspect/index.js';
import { WorkerPool } from '../../src/pool/index.js';
import { BoundedQueue } from '../../src/queue/queue.js';
import { TaskRegistry } from '../../src/registry/registry.js';
import { Semaphore } from '../../src/semaphore/semaphore.js';
import { withTimeout } from '../../src/timeout.js';
import { find, flush, onFakeTimeWithDefaults } from '../support/inspect.js';
import { deferred, track } from '../support/promises.js';

onFakeTimeWithDefaults();

const THIS_FILE = 'test/inspect/dump.test.ts';

describe('inspect() lists each kind of primitive with its use and its waits', () => {
  test('a semaphore: permits in use, and each parked acquire and run with its age and timeout, oldest first', async () => {
    configure({ recordAges: true });
    const sem = new Semaphore(2, { name: 'dump-sem' });
    const held = await sem.acquire({ weight: 2 });
    const first = track(sem.acquire({ timeout: 60_000 }));
    await vi.advanceTimersByTimeAsync(1_500);
    const second = track(sem.run(() => 'x', { weight: 2 }));
    await vi.advanceTimersByTimeAsync(500);

    const block = find('semaphore', 'dump-sem')!;
    expect(block.summary).toBe('2 permits, 2 in use, 2 waiting');
    expect(block.stats).toEqual({ permits: 2, inUse: 2, waiting: 2 });
    expect(block.waits).toEqual([
      {
        what: 'acquire 1 permit',
        state: 'waiting',
        age: 2_000,
        ageIsLowerBound: false,
        timeout: 60_000,
        origin: [],
      },
      {
        what: 'run (2 permits)',
        state: 'waiting',
        age: 500,
        ageIsLowerBound: false,
        timeout: undefined,
        origin: [],
      },
    ]);

    held.release();
    await flush();
    expect(first.status).toBe('fulfilled');
    expect(second.status).toBe('pending'); // needs both permits: the first waiter holds one
    (first.value as { release(): void }).release();
    await flush();
    expect(second.value).toBe('x');
    expect(find('semaphore', 'dump-sem')!.waits).toEqual([]);
  });

  test('a bounded queue: size and capacity, and its parked puts, gets and joins', async () => {
    configure({ recordAges: true });
    const full = new BoundedQueue<number>({ capacity: 1, name: 'dump-full' });
    await full.put(1);
    const put = track(full.put(2, { timeout: 10_000 }));
    const join = track(full.join());
    await vi.advanceTimersByTimeAsync(250);
    const empty = new BoundedQueue<number>({ capacity: 4, name: 'dump-empty' });
    const get = track(empty.get());
    await vi.advanceTimersByTimeAsync(100);

    const a = find('queue', 'dump-full')!;
    expect(a.summary).toBe('1/1 queued, 0 taken and not done, no get yet, 1 put waiting, 1 join waiting');
    expect(a.stats).toMatchObject({
      capacity: 1,
      size: 1,
      putters: 1,
      getters: 0,
      joiners: 1,
      state: 'open',
    });
    expect(a.waits.map((w) => [w.what, w.age, w.timeout])).toEqual([
      ['put', 350, 10_000],
      ['join', 350, undefined],
    ]);
    const b = find('queue', 'dump-empty')!;
    expect(b.waits.map((w) => [w.what, w.age])).toEqual([['get', 100]]);

    expect(full.tryGet()).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(find('queue', 'dump-full')!.summary).toBe(
      '1/1 queued, 1 taken and not done, last get 1000 ms ago, 1 join waiting',
    );
    full.shutdown({ immediate: true });
    empty.close();
    await flush();
    expect(put.status).toBe('fulfilled');
    expect(get.reason).toBeInstanceOf(ClosedError);
    full.taskDone();
    await flush();
    expect(join.status).toBe('fulfilled');
    expect(find('queue', 'dump-full')!.stats.state).toBe('shutdown');
    expect(find('queue', 'dump-full')!.waits).toEqual([]);
  });

  test('a running withTimeout call is listed with its name and limit until it settles', async () => {
    configure({ captureOrigins: true }); // records when it started, so its age is exact
    const work = deferred<string>();
    const call = track(withTimeout(work.promise, 600_000, { name: 'db-connect' }));
    await vi.advanceTimersByTimeAsync(3_000);
    const block = find('withTimeout')!;
    expect(block.summary).toBe('1 call running');
    expect(block.waits).toMatchObject([
      { what: '"db-connect"', age: 3_000, ageIsLowerBound: false, timeout: 600_000 },
    ]);
    work.resolve('ok');
    await flush();
    expect(call.value).toBe('ok');
    expect(find('withTimeout')).toBeUndefined();
  });

  test('a withTimeout whose work throws synchronously is not left listed', async () => {
    const call = track(
      withTimeout(() => {
        throw new Error('sync');
      }, 1_000),
    );
    await flush();
    expect(call.status).toBe('rejected');
    expect(find('withTimeout')).toBeUndefined();
  });

  test('a running fanOut call shows its window and what is in flight, and its semaphore waits show on the semaphore', async () => {
    configure({ captureOrigins: true });
    const gate = new Semaphore(1, { name: 'dump-gate' });
    const calls = [deferred<number>(), deferred<number>(), deferred<number>()];
    const run = track(fanOut([0, 1, 2], (i) => calls[i]!.promise, { window: 2, semaphores: [gate] }));
    await vi.advanceTimersByTimeAsync(40);
    expect(find('fanOut')!.waits).toMatchObject([
      { what: 'window 2: 2 in flight, 2 started; gated by semaphore "dump-gate"', age: 40 },
    ]);
    const waits = find('semaphore', 'dump-gate')!.waits;
    expect(waits.map((w) => w.what)).toEqual(['acquire 1 permit']);
    expect(waits[0]!.origin.join('\n')).toContain(THIS_FILE);
    for (const d of calls) d.resolve(1);
    for (let i = 0; i < 5; i++) await flush();
    expect(run.value).toEqual([1, 1, 1]);
    expect(find('fanOut')).toBeUndefined();
  });

  test('fanOutIterable is listed while iterated and not after the loop ends', async () => {
    const results: number[] = [];
    const items = fanOutIterable([1, 2], async (n) => n, { window: 1 });
    const iterator = items[Symbol.asyncIterator]();
    expect(find('fanOut')).toBeUndefined(); // nothing starts before the first next()
    const first = iterator.next();
    expect(find('fanOut')!.waits).toHaveLength(1);
    results.push((await first).value as number);
    results.push((await iterator.next()).value as number);
    expect(await iterator.next()).toEqual({ done: true, value: undefined });
    expect(results).toEqual([1, 2]);
    expect(find('fanOut')).toBeUndefined();
  });

  test('a named primitive is listed from its creation, an unnamed one from the first time someone waits on it', async () => {
    const count = (kind: string) =>
      inspect().primitives.filter((p) => p.kind === kind && p.name === undefined).length;
    const semaphores = count('semaphore');
    const queues = count('queue');
    const pools = count('pool');
    const sem = new Semaphore(1);
    const queue = new BoundedQueue<number>({ capacity: 1 });
    const idlePool = new WorkerPool({ concurrency: 1 });
    await sem.run(() => queue.put(1)); // used, but nobody waited
    await idlePool.idle();
    expect(count('semaphore')).toBe(semaphores);
    expect(count('queue')).toBe(queues);
    expect(count('pool')).toBe(pools); // made, never given a task
    const held = await sem.acquire();
    const waiting = track(sem.acquire());
    const put = track(queue.put(2));
    expect(count('semaphore')).toBe(semaphores + 1);
    expect(count('queue')).toBe(queues + 1);
    held.release();
    expect(queue.tryGet()).toBe(1);
    await flush();
    expect(waiting.status).toBe('fulfilled');
    expect(put.status).toBe('fulfilled');
    expect(count('semaphore')).toBe(semaphores + 1); // listed for as long as it lives
  });

  test('an unnamed pool is listed at its first wait, or at its first task while the process is inspected', async () => {
    const count = () => inspect().primitives.filter((p) => p.kind === 'pool' && p.name === undefined).length;
    const before = count();
    // Not inspected: a hung task of a pool that was never full is not listed, until its caller gives up.
    const quiet = new WorkerPool({ concurrency: 4 });
    const ac = new AbortController();
    const abandoned = track(quiet.run(() => new Promise(() => {}), { signal: ac.signal }));
    expect(count()).toBe(before);
    ac.abort(new Error('gave up'));
    expect(count()).toBe(before + 1);
    // A full one is listed when a caller waits.
    const full = new WorkerPool({ concurrency: 1 });
    const gate = deferred();
    const first = track(full.run(() => gate.promise));
    expect(count()).toBe(before + 1);
    const second = track(full.run(() => 'next'));
    expect(count()).toBe(before + 2);
    // Inspected (here: recordAges): listed at its first task, so that a hung task shows at once.
    configure({ recordAges: true });
    const watched = new WorkerPool({ concurrency: 4 });
    expect(count()).toBe(before + 2);
    const hung = track(watched.run(() => new Promise(() => {}), { timeout: 1_000 }));
    expect(count()).toBe(before + 3);
    const block = inspect()
      .primitives.filter((p) => p.kind === 'pool' && p.name === undefined)
      .at(-1)!;
    expect(block.waits.map((w) => [w.what, w.state, w.timeout])).toEqual([['task', 'running', 1_000]]);
    gate.resolve();
    await vi.advanceTimersByTimeAsync(1_000);
    expect([abandoned.status, first.status, second.value]).toEqual(['rejected', 'fulfilled', 'next']);
    expect(hung.reason).toBeInstanceOf(TimeoutError);
  });

  test('the report is plain JSON', async () => {
    const sem = new Semaphore(1, { name: 'json' });
    await sem.acquire();
    const waiting = track(sem.acquire({ timeout: 100 }));
    const copy = JSON.parse(JSON.stringify(inspect())) as InspectReport;
    expect(find('semaphore', 'json', copy)!.waits[0]).toMatchObject({
      what: 'acquire 1 permit',
      timeout: 100,
    });
    await vi.advanceTimersByTimeAsync(100);
    expect(waiting.reason).toBeInstanceOf(TimeoutError);
  });

  test('two running calls of a kind make one block with a line each', async () => {
    const a = deferred<void>();
    const b = deferred<void>();
    const calls = [
      track(withTimeout(a.promise, 1_000, { name: 'two-a' })),
      track(withTimeout(b.promise, 2_000, { name: 'two-b' })),
    ];
    const block = find('withTimeout')!;
    expect(block.summary).toBe('2 calls running');
    expect(block.waits.map((w) => w.what).sort()).toEqual(['"two-a"', '"two-b"']);
    a.resolve();
    b.resolve();
    await flush();
    expect(calls.map((c) => c.status)).toEqual(['fulfilled', 'fulfilled']);
  });

  test('dropped primitives and an iterator dropped mid-loop leave the dump once collected', async () => {
    vi.useRealTimers();
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const names = () => inspect().primitives.flatMap((p) => (p.name?.startsWith('weak-') ? [p.name] : []));
    const fanOuts = () => find('fanOut')?.waits.length ?? 0;
    const baseline = fanOuts();
    const parked: unknown[] = [];
    await (async () => {
      const sem = new Semaphore(1, { name: 'weak-sem' });
      await sem.acquire();
      parked.push(track(sem.acquire())); // parked forever: only the semaphore holds its waiter
      const queue = new BoundedQueue<number>({ capacity: 1, name: 'weak-queue' });
      parked.push(track(queue.get()));
      const iterator = fanOutIterable([1, 2, 3], async (n) => n, { window: 1 })[Symbol.asyncIterator]();
      expect(await iterator.next()).toEqual({ done: false, value: 1 }); // then let go without return()
    })();
    const kept = new Semaphore(1, { name: 'weak-kept' });
    expect(names().sort()).toEqual(['weak-kept', 'weak-queue', 'weak-sem']);
    expect(fanOuts()).toBe(baseline + 1);
    // A WeakRef target stays alive until the end of the job that last read it: collect in a later one.
    await new Promise((resolve) => setTimeout(resolve, 0));
    gc();
    // At once, before the FinalizationRegistry has run: the snapshot itself skips what is gone.
    expect(names()).toEqual(['weak-kept']);
    expect(fanOuts()).toBe(baseline);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(names()).toEqual(['weak-kept']);
    expect(kept.available).toBe(1);
    expect(parked).toHaveLength(2);
  });

  test('the list of registered primitives is swept of collected ones as it grows', async () => {
    vi.useRealTimers();
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const shared = (globalThis as Record<symbol, { live: unknown[]; sweepAt: number }>)[
      Symbol.for('unwedge.inspect.v1')
    ]!;
    (() => {
      for (let i = 0; i < 3_000; i++) new Semaphore(1, { name: 'sweep-dropped' });
    })();
    expect(shared.live.length).toBeGreaterThanOrEqual(3_000);
    await new Promise((resolve) => setTimeout(resolve, 0));
    gc();
    const kept: Semaphore[] = [];
    const limit = shared.sweepAt;
    let swept = false;
    while (!swept && shared.live.length < limit) {
      const before = shared.live.length;
      kept.push(new Semaphore(1, { name: 'sweep-kept' }));
      swept = shared.live.length < before; // the registration that reached sweepAt swept the list
    }
    expect(swept).toBe(true);
    expect(shared.live.length).toBeLessThan(limit - 2_500); // the 3,000 dropped ones are gone
    expect(shared.sweepAt).toBe(Math.max(1_024, shared.live.length * 2));
  });
});

describe('inspect() lists the tasks of pools and registries', () => {
  test('a worker pool: slots, use and line, each running task (abandoned ones marked), each queued task and watcher', async () => {
    configure({ recordAges: true });
    const reported: unknown[] = [];
    const pool = new WorkerPool({
      concurrency: 2,
      maxQueue: 8,
      name: 'dump-pool',
      onError: (error) => reported.push(error),
    });
    const hung = deferred<never>();
    const ac = new AbortController();
    const ignoring = track(pool.run(() => hung.promise, { signal: ac.signal })); // ignores its signal
    const long = deferred();
    const running = track(pool.run(() => long.promise, { timeout: 5_000 }));
    await vi.advanceTimersByTimeAsync(200);
    const queued = track(pool.run(() => 'later', { queueTimeout: 9_000 }));
    const idle = track(pool.idle({ timeout: 30_000 }));
    await vi.advanceTimersByTimeAsync(100);
    ac.abort(new Error('client left'));
    await flush();

    const block = find('pool', 'dump-pool')!;
    expect(block.summary).toBe('2 slots, 2 in use, 1 waiting (1 abandoned), maxQueue 8');
    expect(block.stats).toEqual({
      concurrency: 2,
      active: 2,
      queued: 1,
      maxQueue: 8,
      abandoned: 1,
      state: 'open',
    });
    expect(block.waits.map((w) => [w.what, w.state, w.age, w.timeout])).toEqual([
      ['task', 'abandoned', 300, undefined],
      ['task', 'running', 300, 5_000],
      ['run (queued)', 'waiting', 100, 9_000],
      ['idle', 'waiting', 100, 30_000],
    ]);
    expect(ignoring.reason).toEqual(new Error('client left'));

    long.resolve();
    await flush();
    expect(running.status).toBe('fulfilled');
    expect(queued.value).toBe('later');
    expect(find('pool', 'dump-pool')!.waits.map((w) => w.state)).toEqual(['abandoned', 'waiting']);
    const shutdown = track(pool.shutdown({ drain: true, timeout: 1_000 }));
    await flush();
    expect(find('pool', 'dump-pool')!.summary).toBe(
      '2 slots, 1 in use, 0 waiting (1 abandoned), maxQueue 8, draining',
    );
    expect(find('pool', 'dump-pool')!.waits.map((w) => w.what)).toEqual(['task', 'idle', 'shutdown (drain)']);
    hung.reject(new Error('finally'));
    await flush();
    expect(reported).toEqual([new Error('finally')]);
    expect(idle.status).toBe('fulfilled');
    expect(shutdown.value).toEqual({ cancelled: 0, aborted: 0, stillRunning: 0 });
    expect(find('pool', 'dump-pool')!.waits).toEqual([]);
  });

  test('a pool task started with timing off counts its age from first sight; origins name the run() call', async () => {
    configure({ captureOrigins: true });
    const pool = new WorkerPool({ concurrency: 1, name: 'origin-pool' });
    const gate = deferred();
    const first = track(pool.run(() => gate.promise));
    configure({ captureOrigins: false });
    const second = track(pool.run(() => gate.promise));
    await vi.advanceTimersByTimeAsync(50);
    const [running, queued] = find('pool', 'origin-pool')!.waits;
    expect(running).toMatchObject({ state: 'running', age: 50, ageIsLowerBound: false });
    expect(running!.origin[0]).toContain(THIS_FILE);
    expect(queued).toMatchObject({ state: 'waiting', age: 0, ageIsLowerBound: true, origin: [] });
    gate.resolve();
    await flush();
    expect([first.status, second.status]).toEqual(['fulfilled', 'fulfilled']);
  });

  test("an untimed pool task's running age counts from its first sight running, not queued", async () => {
    const pool = new WorkerPool({ concurrency: 1, name: 'untimed-phases' });
    const first = deferred();
    const second = deferred();
    const a = track(pool.run(() => first.promise));
    const b = track(pool.run(() => second.promise));
    const ages = () => find('pool', 'untimed-phases')!.waits.map((w) => [w.state, w.age, w.ageIsLowerBound]);
    expect(ages()).toEqual([
      ['running', 0, true],
      ['waiting', 0, true],
    ]);
    await vi.advanceTimersByTimeAsync(500);
    expect(ages()).toEqual([
      ['running', 500, true],
      ['waiting', 500, true],
    ]);
    first.resolve();
    await flush();
    expect(ages()).toEqual([['running', 0, true]]);
    await vi.advanceTimersByTimeAsync(50);
    expect(ages()).toEqual([['running', 50, true]]);
    second.resolve();
    await flush();
    expect([a.status, b.status]).toEqual(['fulfilled', 'fulfilled']);
  });

  test('a task registry: its live tasks by state, each with its name, age, limit and origin', async () => {
    configure({ captureOrigins: true });
    const registry = new TaskRegistry({ name: 'dump-registry', onError: () => {} });
    const forever = registry.spawn('poll-feeds', () => new Promise(() => {}));
    await vi.advanceTimersByTimeAsync(1_000);
    const limited = registry.spawn(
      'refresh-cache',
      (signal) =>
        new Promise((_, reject) => {
          signal.addEventListener('abort', () => setTimeout(() => reject(signal.reason), 500));
        }),
      { timeout: 2_000 },
    );
    limited.done.catch(() => {});
    await vi.advanceTimersByTimeAsync(2_000);

    const block = find('registry', 'dump-registry')!;
    expect(block.summary).toBe('2 tasks (1 running, 1 timed-out), open');
    expect(block.stats).toMatchObject({ tasks: 2, running: 1, 'timed-out': 1, state: 'open' });
    expect(block.waits.map((w) => [w.what, w.state, w.age, w.timeout])).toEqual([
      ['"poll-feeds"', 'running', 3_000, undefined],
      ['"refresh-cache"', 'timed-out', 2_000, 2_000],
    ]);
    expect(block.waits[0]!.origin[0]).toContain(THIS_FILE);
    const report = track(registry.shutdown({ timeout: 100 }));
    await vi.advanceTimersByTimeAsync(600);
    expect(report.status).toBe('fulfilled');
    expect(find('registry', 'dump-registry')!.summary).toBe('1 task (1 shutting-down), closed');
    forever.cancel();
  });
});

describe('formatInspect', () => {
  test('one block per primitive, one line per wait oldest first, origin frames indented, idle ones last', async () => {
    configure({ captureOrigins: true });
    const sem = new Semaphore(1, { name: 'fmt-sem' });
    const held = await sem.acquire();
    const older = track(sem.acquire({ timeout: 9_000 }));
    await vi.advanceTimersByTimeAsync(1_200);
    const newer = track(sem.acquire());
    await vi.advanceTimersByTimeAsync(30);
    new Semaphore(2, { name: 'fmt-idle' });

    const text = formatInspect();
    const lines = text.split('\n');
    const head = lines.indexOf('semaphore "fmt-sem": 1 permit, 1 in use, 2 waiting');
    expect(head).toBeGreaterThan(0);
    expect(lines[head + 1]).toBe('  1230 ms  acquire 1 permit (timeout 9000 ms)');
    expect(lines[head + 2]).toMatch(/^ {8}at .*test\/inspect\/dump\.test\.ts:\d+:\d+/);
    const second = lines.findIndex((l, i) => i > head + 1 && l.startsWith('    30 ms'));
    expect(lines[second]).toBe('    30 ms  acquire 1 permit (no timeout)');
    const idle = lines.indexOf('idle:');
    expect(idle).toBeGreaterThan(second);
    expect(lines.slice(idle)).toContain('  semaphore "fmt-idle": 2 permits, 0 in use, 0 waiting');
    expect(lines[0]).toMatch(/^unwedge: \d+ waits? in \d+ of \d+ primitives? \(pid \d+, /);
    await vi.advanceTimersByTimeAsync(9_000);
    expect(older.reason).toBeInstanceOf(TimeoutError);
    held.release();
    await flush();
    expect(newer.status).toBe('fulfilled');
  });

  test('a lower-bound age is marked', async () => {
    const work = deferred<void>();
    const call = track(withTimeout(work.promise, 50_000, { name: 'fmt-call' }));
    inspect();
    await vi.advanceTimersByTimeAsync(20);
    expect(formatInspect()).toContain('  >=20 ms  "fmt-call" (timeout 50000 ms)');
    work.resolve();
    await flush();
    expect(call.status).toBe('fulfilled');
  });

  test('a task line shows its state; a report of one primitive says so', () => {
    const text = formatInspect({
      pid: 1,
      takenAt: '2025-01-01T00:00:00.000Z',
      waits: 1,
      primitives: [
        {
          kind: 'pool',
          name: 'rss-fetch',
          summary: '1 active, 0 queued',
          stats: {},
          waits: [
            { what: 'task', state: 'running', age: 12, ageIsLowerBound: false, timeout: 500, origin: [] },
          ],
          omitted: undefined,
        },
      ],
    });
    expect(text).toBe(
      'unwedge: 1 wait in 1 of 1 primitive (pid 1, 2025-01-01T00:00:00.000Z)\n\npool "rss-fetch": 1 active, 0 queued\n  12 ms  [running] task (timeout 500 ms)\n',
    );
  });
});

describe('formatInspect with a long line', () => {
  test('shows the oldest 100 waits of a primitive and counts the rest; 150,000 waits do not break it', async () => {
    const sem = new Semaphore(1, { name: 'fmt-long' });
    const held = await sem.acquire();
    const parked: Array<Promise<unknown>> = [];
    for (let i = 0; i < 150_000; i++) parked.push(sem.acquire().then((p) => p.release()));
    try {
      const text = formatInspect();
      const block = text.slice(text.indexOf('semaphore "fmt-long"')).split('\n\n')[0]!.trimEnd();
      const lines = block.split('\n');
      expect(lines).toHaveLength(1 + 100 + 1);
      expect(lines.at(-1)).toBe('  … and 149900 more, not listed: 149900 of unknown age');
      const block2 = find('semaphore', 'fmt-long')!;
      expect(block2.waits).toHaveLength(100);
      expect(block2.omitted).toEqual({
        count: 149_900,
        ages: { '<10ms': 0, '10ms-100ms': 0, '100ms-1s': 0, '1s-10s': 0, '10s-1min': 0, '>=1min': 0 },
        unknownAge: 149_900,
      });
      expect(find('semaphore', 'fmt-long', inspect({ limit: Number.POSITIVE_INFINITY }))!.waits).toHaveLength(
        150_000,
      );
    } finally {
      held.release(); // a later test's snapshots must not walk 150,000 waits
      await Promise.all(parked);
    }
  });
});

import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { register, unregister } from '../src/core/live.js';
import { libraryRoots, originFrames } from '../src/core/origins.js';
import { sinceDate } from '../src/core/track.js';
import { disarm, fail, park, settle, Waiter, type WaitHost } from '../src/core/wait.js';
import { WaiterList } from '../src/core/waiters.js';
import { ClosedError, DeadlockError, TimeoutError } from '../src/errors.js';
import { fanOut } from '../src/fan-out.js';
import { fanOutIterable } from '../src/fan-out-iterable.js';
import { createInspectHandler, dumpOnSignal } from '../src/inspect/http.js';
import {
  channels,
  configure,
  formatInspect,
  type InspectReport,
  inspect,
  type Stall,
  type WaitEndMessage,
  type WaitStartMessage,
  watchStalls,
  writeStall,
} from '../src/inspect.js';
import { WorkerPool } from '../src/pool.js';
import { BoundedQueue } from '../src/queue.js';
import { TaskRegistry } from '../src/registry.js';
import { Semaphore } from '../src/semaphore.js';
import { withTimeout } from '../src/timeout.js';
import { activeResources, leakedSince } from './support/leaks.js';
import { deferred, track } from './support/promises.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  configure({ captureOrigins: false, recordAges: false });
  vi.restoreAllMocks();
  vi.useRealTimers();
});

const flush = () => vi.advanceTimersByTimeAsync(0);
const THIS_FILE = 'test/inspect.test.ts';

/** The block of one primitive (tests name theirs uniquely: other tests' primitives may still be alive). */
function find(kind: string, name?: string, report: InspectReport = inspect()) {
  return report.primitives.find((p) => p.kind === kind && p.name === name);
}

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

  test('with timing off, a wait has no start time: its age counts from first sight, as a lower bound', async () => {
    const sem = new Semaphore(1, { name: 'untimed-sem' });
    const held = await sem.acquire();
    const parked = track(sem.acquire());
    await vi.advanceTimersByTimeAsync(5_000);
    expect(find('semaphore', 'untimed-sem')!.waits).toMatchObject([{ age: 0, ageIsLowerBound: true }]);
    await vi.advanceTimersByTimeAsync(250);
    expect(find('semaphore', 'untimed-sem')!.waits).toMatchObject([{ age: 250, ageIsLowerBound: true }]);
    held.release();
    await flush();
    expect(parked.status).toBe('fulfilled');
    (parked.value as { release(): void }).release();
  });

  test('a stall watcher or a signal dump turns timing on while installed', async () => {
    const sem = new Semaphore(1, { name: 'timed-by-install' });
    const ages = () => find('semaphore', 'timed-by-install')!.waits.map((w) => [w.age, w.ageIsLowerBound]);
    const installs: Array<[string, () => () => void]> = [
      [
        'watchStalls',
        () => {
          const watcher = watchStalls({ threshold: 60_000, onStall: () => {} });
          return () => watcher.stop();
        },
      ],
      ['dumpOnSignal', () => dumpOnSignal('SIGUSR2', { write: () => {} })],
    ];
    for (const [label, install] of installs) {
      const held = await sem.acquire();
      const stop = install();
      const timed = sem.acquire();
      await vi.advanceTimersByTimeAsync(400);
      expect(ages(), label).toEqual([[400, false]]);
      stop();
      const untimed = sem.acquire();
      await vi.advanceTimersByTimeAsync(100);
      expect(ages(), label).toEqual([
        [500, false],
        [0, true],
      ]);
      held.release();
      await flush();
      (await timed).release();
      await flush();
      (await untimed).release();
      expect(ages(), label).toEqual([]);
    }
    // createInspectHandler turns timing on for good: tested at the end of this file.
  });

  test('per-call work started with timing off has no start time either', async () => {
    const ac = new AbortController();
    const call = track(
      withTimeout(
        (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
        undefined,
        { signal: ac.signal },
      ),
    );
    await vi.advanceTimersByTimeAsync(5_000);
    expect(find('withTimeout')!.waits).toMatchObject([
      { what: 'operation', age: 0, ageIsLowerBound: true, timeout: undefined },
    ]);
    await vi.advanceTimersByTimeAsync(700);
    expect(find('withTimeout')!.waits).toMatchObject([{ age: 700, ageIsLowerBound: true }]);
    ac.abort(new Error('stop'));
    await flush();
    expect(call.status).toBe('rejected');
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

  test('origins: off by default; with captureOrigins each wait names the line of this file that started it', async () => {
    const sem = new Semaphore(1, { name: 'origins' });
    const held = await sem.acquire();
    const plain = track(sem.acquire());
    configure({ captureOrigins: true });
    const traced = track(sem.acquire());
    const [a, b] = find('semaphore', 'origins')!.waits;
    expect(a!.origin).toEqual([]);
    expect(b!.origin.length).toBeGreaterThan(0);
    expect(b!.origin[0]).toMatch(/^at .*test\/inspect\.test\.ts:\d+:\d+\)?$/);
    // unwedge's own frames and Node's are trimmed
    expect(b!.origin.join('\n')).not.toMatch(/src\/(semaphore|core)|node:internal/);
    held.release();
    await flush();
    (plain.value as { release(): void }).release();
    await flush();
    expect(traced.status).toBe('fulfilled');
  });

  test('configure returns the configuration it replaced', () => {
    expect(configure({ captureOrigins: true })).toEqual({ captureOrigins: false, recordAges: false });
    expect(configure({ recordAges: true })).toEqual({ captureOrigins: true, recordAges: false });
    expect(configure({})).toEqual({ captureOrigins: true, recordAges: true });
    expect(configure({ captureOrigins: false, recordAges: false })).toEqual({
      captureOrigins: true,
      recordAges: true,
    });
  });

  test('configure rejects bad options', () => {
    expect(() => configure({ captureOrigins: 'yes' as unknown as boolean })).toThrow(
      new TypeError('options.captureOrigins must be a boolean; received "yes"'),
    );
    expect(() => configure({ recordAges: 1 as unknown as boolean })).toThrow(
      new TypeError('options.recordAges must be a boolean; received 1'),
    );
    expect(() => configure(null as unknown as object)).toThrow(TypeError);
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

  test('libraryRoots finds unwedge from a frame of its source, its ESM bundle or its CJS bundle', () => {
    expect(libraryRoots('    at file:///work/x/src/core/track.ts:12:3')).toEqual([
      '/work/x/src/',
      'file:///work/x/src/',
    ]);
    expect(
      libraryRoots('    at Object.<anonymous> (/app/node_modules/unwedge/dist/index.cjs:100:20)'),
    ).toEqual(['/app/node_modules/unwedge/dist/', 'file:///app/node_modules/unwedge/dist/']);
    expect(libraryRoots('    at file:///app/node_modules/unwedge/dist/index.js:7:1')).toEqual([
      '/app/node_modules/unwedge/dist/',
      'file:///app/node_modules/unwedge/dist/',
    ]);
    expect(libraryRoots('    at new Promise (<anonymous>)')).toEqual([]);
    expect(libraryRoots('')).toEqual([]);
  });

  test("origin frames leave out Node's and unwedge's own, unless nothing else is left (unwedge bundled into the app)", () => {
    const [src] = libraryRoots(`    at ${new URL('../src/core/track.ts', import.meta.url).href}:1:1`);
    const own = `at put (${src}queue.ts:215:14)`;
    const user = 'at handler (/app/server.js:42:7)';
    const stack = [
      'Error',
      `    ${own}`,
      '    at new Promise (<anonymous>)',
      `    ${user}`,
      '    at emit (node:events:519:28)',
      '    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)',
    ].join('\n');
    expect(originFrames({ stack })).toEqual([user]);
    expect(originFrames({ stack: `Error\n    ${own}` })).toEqual([own]);
    expect(originFrames(undefined)).toEqual([]);
    expect(originFrames({})).toEqual([]);
  });

  test('sinceDate converts a Date.now() stamp to the clock ages are measured on', () => {
    const start = Date.now();
    vi.advanceTimersByTime(1_500);
    expect(performance.now() - sinceDate(start)).toBe(1_500);
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
    expect(lines[head + 2]).toMatch(/^ {8}at .*test\/inspect\.test\.ts:\d+:\d+/);
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
      expect(lines.at(-1)).toBe('  … and 149900 more (all of them in the JSON report)');
      expect(find('semaphore', 'fmt-long')!.waits).toHaveLength(150_000);
    } finally {
      held.release(); // a later test's snapshots must not walk 150,000 waits
      await Promise.all(parked);
    }
  });
});

describe('diagnostics_channel', () => {
  function listen() {
    const events: Array<['start', WaitStartMessage] | ['end', WaitEndMessage]> = [];
    const onStart = (m: unknown) => events.push(['start', m as WaitStartMessage]);
    const onEnd = (m: unknown) => events.push(['end', m as WaitEndMessage]);
    subscribe(channels.waitStart, onStart);
    subscribe(channels.waitEnd, onEnd);
    return {
      events,
      stop() {
        unsubscribe(channels.waitStart, onStart);
        unsubscribe(channels.waitEnd, onEnd);
      },
    };
  }

  test('a subscriber to unwedge:wait:end alone gets every end, with its duration', async () => {
    const ends: WaitEndMessage[] = [];
    const onEnd = (m: unknown) => ends.push(m as WaitEndMessage);
    subscribe(channels.waitEnd, onEnd);
    try {
      const sem = new Semaphore(1, { name: 'dc-end-only' });
      const held = await sem.acquire();
      const waiting = track(sem.acquire());
      const call = track(withTimeout(new Promise(() => {}), 200, { name: 'dc-end-only-call' }));
      await vi.advanceTimersByTimeAsync(200);
      held.release();
      await flush();
      expect(waiting.status).toBe('fulfilled');
      expect(call.reason).toBeInstanceOf(TimeoutError);
      expect(ends.map((m) => [m.kind, m.what, m.outcome, m.duration])).toEqual([
        ['withTimeout', '"dc-end-only-call"', 'timeout', 200],
        ['semaphore', 'acquire 1 permit', 'granted', 200],
      ]);
    } finally {
      unsubscribe(channels.waitEnd, onEnd);
    }
  });

  test('a fanOut whose call rejects with undefined ends as failed, not aborted', async () => {
    const l = listen();
    try {
      const result = track(fanOut([1], () => Promise.reject(undefined), { window: 1 }));
      await flush();
      expect(result.status).toBe('rejected');
      expect(result.reason).toBeUndefined();
      const end = l.events.find(([e, m]) => e === 'end' && m.kind === 'fanOut');
      expect(end?.[1]).toMatchObject({ outcome: 'failed' });
    } finally {
      l.stop();
    }
  });

  test('a thenable whose then() throws fails its withTimeout call at once and leaves nothing listed', async () => {
    const broken = new Error('then() broke');
    const thenable = {
      // biome-ignore lint/suspicious/noThenProperty: a broken thenable on purpose.
      then() {
        throw broken;
      },
    };
    const call = track(
      withTimeout(thenable as unknown as PromiseLike<never>, undefined, { name: 'broken-thenable' }),
    );
    await flush();
    expect(call.reason).toBe(broken);
    expect(inspect().primitives.some((p) => p.kind === 'withTimeout')).toBe(false);
  });

  test('a pool names its queued runs and its idle and shutdown waits', async () => {
    const pool = new WorkerPool({ concurrency: 1, name: 'dc-pool-waits' });
    const gate = deferred();
    const running = track(pool.run(() => gate.promise));
    const l = listen();
    try {
      const queued = track(pool.run(() => 'next', { queueTimeout: 50 }));
      const idle = track(pool.idle({ timeout: 1_000 }));
      const shutdown = track(pool.shutdown({ drain: true, timeout: 2_000 }));
      await vi.advanceTimersByTimeAsync(50);
      gate.resolve();
      await flush();
      expect([running.status, queued.status, idle.status, shutdown.status]).toEqual([
        'fulfilled',
        'rejected',
        'fulfilled',
        'fulfilled',
      ]);
      expect(
        l.events.map(([e, m]) => [e, m.kind, m.name, m.what, m.timeout, 'outcome' in m ? m.outcome : '']),
      ).toEqual([
        ['start', 'pool', 'dc-pool-waits', 'run (queued)', 50, ''],
        ['start', 'pool', 'dc-pool-waits', 'idle', 1_000, ''],
        ['start', 'pool', 'dc-pool-waits', 'shutdown (drain)', 2_000, ''],
        ['end', 'pool', 'dc-pool-waits', 'run (queued)', 50, 'timeout'],
        ['end', 'pool', 'dc-pool-waits', 'idle', 1_000, 'granted'],
        ['end', 'pool', 'dc-pool-waits', 'shutdown (drain)', 2_000, 'granted'],
      ]);
    } finally {
      l.stop();
    }
  });

  test('each parked wait publishes start then end, with the same id and how it ended', async () => {
    const sem = new Semaphore(1, { name: 'dc' });
    const held = await sem.acquire(); // not parked: nothing published
    const l = listen();
    try {
      const ac = new AbortController();
      const granted = track(sem.acquire());
      const timedOut = track(sem.acquire({ timeout: 100 }));
      const aborted = track(sem.acquire({ signal: ac.signal }));
      expect(l.events.map(([e, m]) => [e, m.what, m.timeout])).toEqual([
        ['start', 'acquire 1 permit', undefined],
        ['start', 'acquire 1 permit', 100],
        ['start', 'acquire 1 permit', undefined],
      ]);
      ac.abort(new Error('user'));
      await vi.advanceTimersByTimeAsync(100);
      held.release();
      await flush();
      expect(granted.status).toBe('fulfilled');
      expect(timedOut.reason).toBeInstanceOf(TimeoutError);
      expect(aborted.reason).toEqual(new Error('user'));
      const ids = l.events.slice(0, 3).map(([, m]) => m.id);
      expect(new Set(ids).size).toBe(3);
      const ends = l.events.slice(3) as Array<['end', WaitEndMessage]>;
      expect(ends.map(([e, m]) => [e, m.id, m.outcome, m.kind, m.name])).toEqual([
        ['end', ids[2], 'aborted', 'semaphore', 'dc'],
        ['end', ids[1], 'timeout', 'semaphore', 'dc'],
        ['end', ids[0], 'granted', 'semaphore', 'dc'],
      ]);
      expect(ends.map(([, m]) => m.duration)).toEqual([0, 100, 100]);
    } finally {
      l.stop();
    }
  });

  test('queue waits end as closed when the queue shuts down; a deadlock ends as failed', async () => {
    const l = listen();
    try {
      const q = new BoundedQueue<number>({ capacity: 1, name: 'dc-q' });
      const get = track(q.get());
      q.shutdown({ immediate: true });
      await flush();
      expect(get.reason).toBeInstanceOf(ClosedError);
      expect(l.events.map(([e, m]) => [e, m.kind, m.name, m.what, (m as WaitEndMessage).outcome])).toEqual([
        ['start', 'queue', 'dc-q', 'get', undefined],
        ['end', 'queue', 'dc-q', 'get', 'closed'],
      ]);

      l.events.length = 0;
      const sem = new Semaphore(1, { name: 'dc-dead', detectDeadlocks: true });
      const nested = track(sem.run(() => sem.acquire()));
      await flush();
      expect(nested.reason).toBeInstanceOf(DeadlockError);
      expect(l.events.map(([e, m]) => [e, (m as WaitEndMessage).outcome])).toEqual([
        ['start', undefined],
        ['end', 'failed'],
      ]);
    } finally {
      l.stop();
    }
  });

  test('withTimeout and fanOut calls publish start and end too', async () => {
    const l = listen();
    try {
      const slow = track(withTimeout(new Promise(() => {}), 200, { name: 'dc-call' }));
      const fine = track(withTimeout(Promise.resolve(1), 200));
      const failing = track(withTimeout(Promise.reject(new Error('no')), 200));
      const fan = track(fanOut([1], async (n) => n, { window: 1 }));
      await vi.advanceTimersByTimeAsync(200);
      expect(slow.reason).toBeInstanceOf(TimeoutError);
      expect(fine.value).toBe(1);
      expect(failing.reason).toEqual(new Error('no'));
      expect(fan.value).toEqual([1]);
      const byId = new Map<number, string[]>();
      for (const [e, m] of l.events) {
        byId.set(m.id, [
          ...(byId.get(m.id) ?? []),
          e === 'start' ? `start ${m.kind} ${m.what}` : `end ${(m as WaitEndMessage).outcome}`,
        ]);
      }
      expect([...byId.values()]).toEqual([
        ['start withTimeout "dc-call"', 'end timeout'],
        ['start withTimeout operation', 'end granted'],
        ['start withTimeout operation', 'end failed'],
        ['start fanOut window 1: 0 in flight, 0 started', 'end granted'],
      ]);
    } finally {
      l.stop();
    }
  });

  test('a wait that parked before anyone subscribed publishes no unpaired end', async () => {
    const sem = new Semaphore(1, { name: 'dc-late' });
    const held = await sem.acquire();
    const waiting = track(sem.acquire());
    const l = listen();
    try {
      held.release();
      await flush();
      expect(waiting.status).toBe('fulfilled');
      expect(l.events).toEqual([]);
    } finally {
      l.stop();
    }
  });

  test('a host without describeWait is named by its class; a TimeoutError from the host ends as timeout', async () => {
    class Gate implements WaitHost<Waiter<void>> {
      readonly waiters = new WaiterList<Waiter<void>>();
      constructor(readonly name?: string) {}
      timeoutError(): Error {
        return new TimeoutError('gate timed out');
      }
      onLeave(): void {}
    }
    const l = listen();
    try {
      const named = new Gate('front');
      const first = new Waiter<void>();
      const a = track(park<void>(named, first, undefined, undefined));
      const anonymous = new Gate();
      const second = new Waiter<void>();
      const b = track(park<void>(anonymous, second, undefined, 50));
      named.waiters.remove(first);
      fail(first, new TimeoutError('the host gave up'));
      disarm(first); // already ended: nothing more is published
      disarm(new Waiter<void>()); // never parked (a task started at once): nothing published
      anonymous.waiters.remove(second);
      settle(second, undefined);
      await flush();
      expect(a.reason).toBeInstanceOf(TimeoutError);
      expect(b.status).toBe('fulfilled');
      expect(
        l.events.map(([e, m]) => [e, m.kind, m.name, m.what, m.timeout, (m as WaitEndMessage).outcome]),
      ).toEqual([
        ['start', 'Gate', 'front', 'wait', undefined, undefined],
        ['start', 'Gate', undefined, 'wait', 50, undefined],
        ['end', 'Gate', 'front', 'wait', undefined, 'timeout'],
        ['end', 'Gate', undefined, 'wait', 50, 'granted'],
      ]);
    } finally {
      l.stop();
    }
  });

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

  test('pool and registry failures nobody awaits are published on unwedge:task:error', async () => {
    const seen: unknown[] = [];
    const onMessage = (m: unknown) => seen.push(m);
    subscribe(channels.taskError, onMessage);
    try {
      const pool = new WorkerPool({ concurrency: 1, name: 'dc-pool', onError: () => {} });
      const late = new Error('failed after its run() ended');
      const ac = new AbortController();
      const gate = deferred();
      const run = track(pool.run(() => gate.promise.then(() => Promise.reject(late)), { signal: ac.signal }));
      ac.abort(new Error('gave up'));
      gate.resolve();
      await flush();
      expect(run.status).toBe('rejected');
      const registry = new TaskRegistry({ name: 'dc-registry', onError: () => {} });
      const broke = new Error('background job broke');
      registry.spawn('nightly', () => Promise.reject(broke));
      await flush();
      expect(seen).toEqual([
        { kind: 'pool', name: 'dc-pool', task: undefined, error: late },
        { kind: 'registry', name: 'dc-registry', task: 'nightly', error: broke },
      ]);
    } finally {
      unsubscribe(channels.taskError, onMessage);
    }
  });

  test('a queue consumer handler failure is published on unwedge:task:error', async () => {
    const seen: unknown[] = [];
    const onError = (m: unknown) => seen.push(m);
    subscribe(channels.taskError, onError);
    try {
      const q = new BoundedQueue<string>({ capacity: 2, name: 'dc-consumer' });
      const failure = new Error('handler broke');
      const reported: unknown[] = [];
      const consumer = q.consume(
        () => {
          throw failure;
        },
        { onError: (error) => reported.push(error) },
      );
      await q.put('job-1');
      await flush();
      expect(reported).toEqual([failure]);
      expect(seen).toEqual([{ kind: 'queue', name: 'dc-consumer', task: 'job-1', error: failure }]);
      unsubscribe(channels.taskError, onError);
      await q.put('job-2'); // nobody listens: still reported, nothing published
      await flush();
      expect(reported).toEqual([failure, failure]);
      expect(seen).toHaveLength(1);
      await consumer.stop();
    } finally {
      unsubscribe(channels.taskError, onError);
    }
  });
});

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
    const token = register(owner, (o) => ({
      kind: 'registry',
      name: 'stall-registry',
      summary: `${o.tasks.size} tasks`,
      stats: {},
      waits: [...o.tasks].map((key) => ({ key, what: 'task "sync"', since, state: 'running' })),
    }));
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
      /^unwedge: stalled: queue "stall-stderr" put \(no timeout\) has waited 1000 ms\n {4}at .*test\/inspect\.test\.ts:\d+/,
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

// Last in this file: creating a handler turns timing on for good.
describe('unwedge/inspect/http', () => {
  test('creating an inspect handler turns timing on for good', async () => {
    const sem = new Semaphore(1, { name: 'timed-by-handler' });
    const held = await sem.acquire();
    const before = sem.acquire();
    createInspectHandler();
    const after = sem.acquire();
    await vi.advanceTimersByTimeAsync(300);
    expect(find('semaphore', 'timed-by-handler')!.waits.map((w) => [w.age, w.ageIsLowerBound])).toEqual([
      [300, false],
      [0, true],
    ]);
    held.release();
    (await before).release();
    (await after).release();
  });

  test('the handler answers 500 when a snapshot throws, and writes Infinity as a string in JSON', () => {
    const respond = (url: string) => {
      const res = { statusCode: 0, headers: {} as Record<string, string>, body: '' };
      const handler = createInspectHandler();
      handler(
        { method: 'GET', url } as IncomingMessage,
        {
          set statusCode(code: number) {
            res.statusCode = code;
          },
          setHeader: (k: string, v: string) => {
            res.headers[k] = v;
          },
          end: (body?: string) => {
            res.body = body ?? '';
          },
        } as unknown as ServerResponse,
      );
      return res;
    };
    const _pool = new WorkerPool({
      concurrency: 1,
      maxQueue: Number.POSITIVE_INFINITY,
      name: 'json-infinity',
    });
    const report = JSON.parse(respond('/debug/unwedge?format=json').body) as InspectReport;
    expect(find('pool', 'json-infinity', report)!.stats.maxQueue).toBe('Infinity');
    const token = register({}, () => {
      throw new Error('describe broke');
    });
    try {
      const res = respond('/debug/unwedge');
      expect(res.statusCode).toBe(500);
      expect(res.body).toBe('unwedge: could not take the dump: Error: describe broke\n');
    } finally {
      unregister(token);
    }
  });

  test('createInspectHandler serves the dump as text, or as JSON with ?format=json', async () => {
    vi.useRealTimers();
    const sem = new Semaphore(1, { name: 'http-sem' });
    const held = await sem.acquire();
    const waiting = track(sem.acquire());
    const handler = createInspectHandler();
    const server = createServer((req, res) => handler(req, res));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    const get = (path: string, method = 'GET') =>
      new Promise<{ status?: number; type?: string; body: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            body += chunk;
          });
          res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], body }));
        });
        req.on('error', reject);
        req.end();
      });
    try {
      const text = await get('/debug/unwedge');
      expect(text.status).toBe(200);
      expect(text.type).toBe('text/plain; charset=utf-8');
      expect(text.body).toContain('semaphore "http-sem": 1 permit, 1 in use, 1 waiting');
      const json = await get('/debug/unwedge?format=json');
      expect(json.type).toBe('application/json; charset=utf-8');
      const report = JSON.parse(json.body) as InspectReport;
      expect(find('semaphore', 'http-sem', report)!.waits).toHaveLength(1);
      const head = await get('/debug/unwedge', 'HEAD');
      expect(head.body).toBe('');
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    held.release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(waiting.status).toBe('fulfilled');
  });

  test('the handler answers a request without a url with the text dump', () => {
    const headers: Record<string, string> = {};
    let body = '';
    const res = {
      statusCode: 0,
      setHeader: (k: string, v: string) => {
        headers[k] = v;
      },
      end: (chunk?: string) => {
        body = chunk ?? '';
      },
    };
    createInspectHandler()({ method: 'GET' } as IncomingMessage, res as unknown as ServerResponse);
    expect(res.statusCode).toBe(200);
    expect(headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(body).toMatch(/^unwedge: /);
  });

  test('dumpOnSignal writes the dump on the signal until disposed', () => {
    const written: string[] = [];
    const before = process.listenerCount('SIGUSR2');
    const stop = dumpOnSignal('SIGUSR2', { write: (text) => written.push(text) });
    expect(process.listenerCount('SIGUSR2')).toBe(before + 1);
    process.emit('SIGUSR2', 'SIGUSR2');
    expect(written).toHaveLength(1);
    expect(written[0]).toMatch(/^unwedge: \d+ waits? in/);
    stop();
    expect(process.listenerCount('SIGUSR2')).toBe(before);
    process.emit('SIGUSR2', 'SIGUSR2');
    expect(written).toHaveLength(1);
    const disposer = dumpOnSignal('SIGUSR2', { write: () => {} });
    disposer[Symbol.dispose]();
    expect(process.listenerCount('SIGUSR2')).toBe(before);
  });

  test('dumpOnSignal writes to stderr by default and rejects bad arguments', () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const stop = dumpOnSignal();
    process.emit('SIGUSR2', 'SIGUSR2');
    stop();
    expect(String(write.mock.calls[0]?.[0])).toMatch(/^unwedge: /);
    expect(() => dumpOnSignal(2 as unknown as NodeJS.Signals)).toThrow(TypeError);
    expect(() => dumpOnSignal('SIGUSR2', { write: 1 as unknown as () => void })).toThrow(TypeError);
  });
});

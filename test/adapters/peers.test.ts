// The README's comparison with the peers ("Compared with the peers"): every cell of its table is a
// test here, run against the version of the peer this repository installs, and named after the
// cell. The unwedge row runs the same scenarios; the pool contract (test/pool/contract.ts) and the
// semaphore tests cover it in depth. A peer's new version that changes a behaviour fails its test,
// and the first test fails when the table names another version than the one installed.
import { readFileSync } from 'node:fs';
import { newQueue } from '@henrygd/queue';
import { newQueue as newContextQueue } from '@henrygd/queue/async-storage';
import {
  E_CANCELED,
  E_TIMEOUT,
  Mutex,
  Semaphore as MutexSemaphore,
  withTimeout as mutexWithTimeout,
} from 'async-mutex';
import { Sema } from 'async-sema';
import { bulkhead, TaskCancelledError } from 'cockatiel';
import fastq from 'fastq';
import pLimit from 'p-limit';
import PQueue from 'p-queue';
import { Piscina } from 'piscina';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { limiters as benchLimiters, keepsCallersContext, type Limit } from '../../bench/limiter.js';
import { ClosedError, TimeoutError } from '../../src/errors.js';
import { WorkerPool } from '../../src/pool/index.js';
import { Semaphore } from '../../src/semaphore/semaphore.js';
import { ticks } from '../pool/contract.js';
import { deferred, track } from '../support/promises.js';

const WORKER = new URL('../fixtures/pool-worker.cjs', import.meta.url).href;

/** The peers of the table, as named in its first column, with their installed versions. */
const PEERS = [
  'p-limit',
  'p-queue',
  'fastq',
  '@henrygd/queue',
  'async-sema',
  'cockatiel',
  'async-mutex',
  'piscina',
];
const installed = (name: string): string =>
  (
    JSON.parse(readFileSync(new URL(`../../node_modules/${name}/package.json`, import.meta.url), 'utf8')) as {
      version: string;
    }
  ).version;

test('the README table names the installed version of every peer it compares', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const from = readme.indexOf('## Compared with the peers');
  const section = readme.slice(from, readme.indexOf('\n## ', from + 1));
  expect(from).toBeGreaterThan(-1);
  for (const name of PEERS) expect(section, name).toContain(`| ${name} ${installed(name)}`);
});

/** A minute of virtual time: long after anything that was going to settle has settled. */
const A_MINUTE = 60_000;

/** Settles with `'gave up'` after `ms` (virtual time) unless `promise` settles first: a caller's own bound. */
function giveUp<T>(promise: Promise<T>, ms: number): Promise<T | 'gave up'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<'gave up'>((resolve) => {
    timer = setTimeout(() => resolve('gave up'), ms);
  });
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
}

/** Method names a peer could offer to empty its line; none of them exist on `value`. */
function expectNoWayToClear(value: object): void {
  for (const name of ['clear', 'clearQueue', 'cancel', 'abort', 'kill', 'destroy', 'close', 'shutdown'])
    expect(name in value, name).toBe(false);
}

describe('clear or shut down: the promises it handed out', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  test('unwedge WorkerPool: shutdown() rejects the queued with ClosedError and the running at once, even a task that ignores its signal', async () => {
    const pool = new WorkerPool({ concurrency: 1 });
    const hung = new Promise<never>(() => {});
    const running = track(pool.run(() => hung));
    const queued = track(pool.run(() => 'never runs'));
    expect(await pool.shutdown()).toEqual({ cancelled: 1, aborted: 1, stillRunning: 1 });
    await ticks();
    expect([running.reason, queued.reason].map((r) => r instanceof ClosedError)).toEqual([true, true]);
  });

  test('p-limit: clearQueue() leaves the promises of the cleared calls pending forever', async () => {
    const limit = pLimit(1);
    const gate = deferred();
    const running = limit(() => gate.promise);
    const queued = track(limit(() => 'never runs'));
    limit.clearQueue();
    gate.resolve();
    await running;
    await vi.advanceTimersByTimeAsync(A_MINUTE);
    expect(queued.status).toBe('pending');
  });

  test('p-limit: created with rejectOnClear: true, clearQueue() rejects them with an AbortError', async () => {
    const limit = pLimit({ concurrency: 1, rejectOnClear: true });
    const gate = deferred();
    const running = limit(() => gate.promise);
    const queued = track(limit(() => 'never runs'));
    limit.clearQueue();
    await ticks();
    expect(queued.status).toBe('rejected');
    expect((queued.reason as Error).name).toBe('AbortError');
    gate.resolve();
    await running;
  });

  test('p-queue: clear() leaves the promises of the cleared tasks pending forever', async () => {
    const queue = new PQueue({ concurrency: 1 });
    const gate = deferred();
    const running = queue.add(() => gate.promise);
    const queued = track(queue.add(() => 'never runs'));
    queue.clear();
    await vi.advanceTimersByTimeAsync(A_MINUTE);
    expect(queued.status).toBe('pending'); // a minute later; nothing will ever settle it
    gate.resolve();
    await running;
    await vi.advanceTimersByTimeAsync(A_MINUTE);
    expect(queued.status).toBe('pending');
    expect([queue.size, queue.pending]).toEqual([0, 0]);
  });

  test("fastq: kill() leaves the queued pushes' promises pending forever; abort() rejects them with Error('abort')", async () => {
    for (const how of ['kill', 'abort'] as const) {
      const queue = fastq.promise((fn: () => Promise<unknown>) => fn(), 1);
      const gate = deferred();
      const running = queue.push(() => gate.promise);
      const queued = track(queue.push(async () => 'never runs'));
      queue[how]();
      gate.resolve();
      await running;
      await vi.advanceTimersByTimeAsync(A_MINUTE);
      if (how === 'kill') expect(queued.status).toBe('pending');
      else expect((queued.reason as Error).message).toBe('abort');
      expect(queue.length()).toBe(0);
    }
  });

  test("@henrygd/queue: clear() rejects the queued promises with Error('Queue cleared')", async () => {
    const queue = newQueue(1);
    const gate = deferred();
    const running = queue.add(() => gate.promise);
    const queued = track(queue.add(async () => 'never runs'));
    queue.clear();
    await ticks();
    expect((queued.reason as Error).message).toBe('Queue cleared');
    gate.resolve();
    await running;
    expect(queue.size()).toBe(0);
  });

  test('async-sema: no way to clear; a waiting acquire() settles only on a release()', async () => {
    const sema = new Sema(1);
    expectNoWayToClear(sema);
    await sema.acquire();
    const waiting = track(sema.acquire());
    await vi.advanceTimersByTimeAsync(A_MINUTE);
    expect(waiting.status).toBe('pending');
    sema.release();
    await ticks();
    expect(waiting.status).toBe('fulfilled');
  });

  test('cockatiel bulkhead: no way to clear; a queued call settles only once it gets a slot', async () => {
    const policy = bulkhead(1, Number.POSITIVE_INFINITY);
    expectNoWayToClear(policy);
    const gate = deferred();
    const running = policy.execute(() => gate.promise);
    const queued = track(policy.execute(async () => 'ran'));
    await vi.advanceTimersByTimeAsync(A_MINUTE);
    expect(queued.status).toBe('pending');
    gate.resolve();
    await running;
    await ticks();
    expect(queued.value).toBe('ran');
  });

  test('async-mutex: cancel() rejects every waiter with E_CANCELED', async () => {
    const sem = new MutexSemaphore(1);
    const [, release] = await sem.acquire();
    const waiters = [track(sem.runExclusive(() => 'never runs')), track(sem.acquire())];
    sem.cancel();
    await ticks();
    expect(waiters.map((w) => w.reason)).toEqual([E_CANCELED, E_CANCELED]);
    release();
    expect(sem.getValue()).toBe(1);
  });
});

describe('a caller in line gives up (its signal or a timeout)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  test('unwedge: on its signal or timeout a queued call leaves the line at once and never starts; the line moves on', async () => {
    type GiveUp = { signal?: AbortSignal; timeout?: number };
    const sem = new Semaphore(1);
    const pool = new WorkerPool({ concurrency: 1 });
    const subjects: Array<[string, (fn: () => unknown, bound?: GiveUp) => Promise<unknown>]> = [
      ['Semaphore.run', (fn, bound) => sem.run(fn, bound)],
      [
        'WorkerPool.run',
        (fn, bound) => pool.run(fn, bound && { signal: bound.signal, queueTimeout: bound.timeout }),
      ],
    ];
    for (const [name, submit] of subjects) {
      for (const by of ['signal', 'timeout'] as const) {
        const gate = deferred();
        const holder = submit(() => gate.promise);
        const started: string[] = [];
        const controller = new AbortController();
        const bound = by === 'signal' ? { signal: controller.signal } : { timeout: 100 };
        const gone = track(submit(() => started.push('gone'), bound));
        const behind = track(submit(() => started.push('behind')));
        const reason = new Error('client left');
        if (by === 'signal') controller.abort(reason);
        else await vi.advanceTimersByTimeAsync(100);
        await ticks();
        if (by === 'signal') expect(gone.reason, name).toBe(reason);
        else expect(gone.reason, name).toBeInstanceOf(TimeoutError);
        expect(behind.status, name).toBe('pending');
        gate.resolve();
        await holder;
        await ticks();
        expect(started, `${name} by its ${by}`).toEqual(['behind']);
      }
    }
    await pool.shutdown();
  });

  test.each([
    [
      'p-limit',
      () => {
        const limit = pLimit(1);
        return { submit: (fn: () => Promise<unknown>) => limit(fn), queued: () => limit.pendingCount };
      },
    ],
    [
      'fastq',
      () => {
        const queue = fastq.promise((fn: () => Promise<unknown>) => fn(), 1);
        return { submit: (fn: () => Promise<unknown>) => queue.push(fn), queued: () => queue.length() };
      },
    ],
    [
      '@henrygd/queue',
      () => {
        const queue = newQueue(1);
        return {
          submit: (fn: () => Promise<unknown>) => queue.add(fn),
          queued: () => queue.size() - queue.active(),
        };
      },
    ],
  ])(
    '%s: no signal or timeout; a caller that stops waiting leaves its task in line, and it runs later',
    async (_, make) => {
      const { submit, queued } = make();
      const gate = deferred();
      const holder = submit(() => gate.promise);
      let ran = false;
      const call = giveUp(
        submit(async () => {
          ran = true;
        }),
        100,
      );
      await vi.advanceTimersByTimeAsync(100);
      expect(await call).toBe('gave up');
      expect(queued()).toBe(1);
      gate.resolve();
      await holder;
      await ticks();
      expect(ran).toBe(true);
      expect(queued()).toBe(0);
    },
  );

  test('async-sema: no signal or timeout; an acquire() its caller gave up on stays in line and takes the token it is later given, which is lost unless released', async () => {
    const sema = new Sema(1);
    await sema.acquire();
    const [answer] = await Promise.all([giveUp(sema.acquire(), 100), vi.advanceTimersByTimeAsync(100)]);
    expect(answer).toBe('gave up');
    expect(sema.nrWaiting()).toBe(1);
    sema.release(); // the holder is done: the token goes to the waiter nobody listens to
    const next = track(sema.acquire());
    await vi.advanceTimersByTimeAsync(A_MINUTE);
    expect(next.status).toBe('pending'); // a limit of 1 now lets nobody through
    sema.release(); // the abandoned acquire's release, written by hand
    await ticks();
    expect(next.status).toBe('fulfilled');
  });

  test('p-queue: its signal takes a queued task out of line at once, rejecting with the reason', async () => {
    const queue = new PQueue({ concurrency: 1 });
    const gate = deferred();
    const holder = queue.add(() => gate.promise);
    const controller = new AbortController();
    let ran = false;
    const queued = track(
      queue.add(
        async () => {
          ran = true;
        },
        { signal: controller.signal },
      ),
    );
    const reason = new Error('client left');
    controller.abort(reason);
    await ticks();
    expect(queued.reason).toBe(reason);
    expect(queue.size).toBe(0);
    gate.resolve();
    await holder;
    expect(ran).toBe(false);
  });

  test("p-queue: its timeout counts from the task's start, so it does not bound the wait in line", async () => {
    const queue = new PQueue({ concurrency: 1 });
    const gate = deferred();
    const holder = queue.add(() => gate.promise);
    const queued = track(queue.add(async () => 'ran', { timeout: 100 }));
    await vi.advanceTimersByTimeAsync(A_MINUTE);
    expect(queued.status).toBe('pending');
    gate.resolve();
    await holder;
    await ticks();
    expect(queued.value).toBe('ran');
  });

  test('cockatiel bulkhead: its signal is read only when the call’s turn comes, and that turn is not passed on: the calls behind wait for another call to end', async () => {
    const policy = bulkhead(1, Number.POSITIVE_INFINITY);
    const gate = deferred();
    const holder = policy.execute(() => gate.promise);
    const controller = new AbortController();
    const gone = track(policy.execute(async () => 'gone', controller.signal));
    const behind = track(policy.execute(async () => 'behind'));
    controller.abort();
    await vi.advanceTimersByTimeAsync(A_MINUTE);
    expect(gone.status).toBe('pending'); // aborted a minute ago, still in line
    gate.resolve();
    await holder;
    await ticks();
    expect(gone.reason).toBeInstanceOf(TaskCancelledError);
    await vi.advanceTimersByTimeAsync(A_MINUTE);
    expect(behind.status).toBe('pending'); // the bulkhead is idle, and the call behind still waits
    expect([policy.executionSlots, policy.queueSlots]).toEqual([1, Number.POSITIVE_INFINITY]);
    // Only another call's end moves the line: this one runs at once, ahead of the waiting one.
    expect(await policy.execute(async () => 'newcomer')).toBe('newcomer');
    await ticks();
    expect(behind.value).toBe('behind');
  });

  test('async-mutex: withTimeout() rejects the caller with E_TIMEOUT, but its waiter keeps its place, and a heavier one blocks the lighter ones behind it', async () => {
    const sem = new MutexSemaphore(2);
    const [, release] = await sem.acquire(1);
    const heavy = track(mutexWithTimeout(sem, 100).acquire(2));
    const light = track(sem.acquire(1));
    await vi.advanceTimersByTimeAsync(100);
    expect(heavy.reason).toBe(E_TIMEOUT);
    await vi.advanceTimersByTimeAsync(A_MINUTE);
    expect(sem.getValue()).toBe(1); // a permit is free...
    expect(light.status).toBe('pending'); // ...and the light waiter behind the timed-out one waits
    release();
    await ticks();
    expect(light.status).toBe('fulfilled');
    (light.value as [number, () => void])[1]();
    expect(sem.getValue()).toBe(2);
  });
});

describe('what the migration guides say of a peer', () => {
  test('async-mutex (docs/guides/from-async-mutex.md): a stray release() unlocks a Mutex that someone else holds', async () => {
    const mutex = new Mutex();
    const releaseOwn = await mutex.acquire(); // the holder is still in its critical section...
    mutex.release(); // ...when other code calls release()
    expect(mutex.isLocked()).toBe(false);
    const second = await mutex.acquire(); // a second caller is let in beside the holder
    second();
    releaseOwn();
    expect(mutex.isLocked()).toBe(false);
  });
});

describe('piscina (worker threads, real time)', () => {
  async function spinning(piscina: Piscina) {
    const state = new Int32Array(new SharedArrayBuffer(8));
    const spin = track(piscina.run({ kind: 'spin', state }));
    while (Atomics.load(state, 0) === 0) {
      const wait = (
        Atomics as unknown as { waitAsync: (...a: unknown[]) => { async: boolean; value: unknown } }
      ).waitAsync(state, 0, 0, 100);
      if (wait.async) await wait.value;
    }
    return spin;
  }

  test('piscina: destroy() rejects every promise it handed out, queued or running, and ends the threads', async () => {
    const piscina = new Piscina({ filename: WORKER, minThreads: 1, maxThreads: 1 });
    const spin = await spinning(piscina); // stuck in while (true) {}
    const queued = track(piscina.run({ kind: 'value', value: 1 }));
    expect(piscina.queueSize).toBe(1);
    await piscina.destroy();
    await ticks();
    expect([spin, queued].map((t) => (t.reason as Error).message)).toEqual([
      'Terminating worker thread',
      'Terminating worker thread',
    ]);
    expect(piscina.threads.length).toBe(0);
  });

  test('piscina: its signal takes a queued task out of the queue at once, rejecting with an AbortError', async () => {
    const piscina = new Piscina({ filename: WORKER, minThreads: 1, maxThreads: 1 });
    try {
      const spin = await spinning(piscina);
      const controller = new AbortController();
      const queued = track(piscina.run({ kind: 'value', value: 1 }, { signal: controller.signal }));
      expect(piscina.queueSize).toBe(1);
      controller.abort('client left');
      await ticks(1);
      expect((queued.reason as Error).name).toBe('AbortError');
      expect((queued.reason as Error).cause).toBe('client left');
      expect(piscina.queueSize).toBe(0);
      expect(spin.status).toBe('pending');
    } finally {
      await piscina.destroy();
    }
  });
});

describe("a task that waited in line runs in its caller's async context", () => {
  // The probe of `npm run bench` (its "keeps caller's context" column): a task queued from
  // context B behind one started in context A runs in B, or in A (started by A's end).
  // The same limiters as the bench's own rows, so that the table and the bench probe one thing.
  const bench = (name: string) => benchLimiters.find((l) => l.name === name)!.make;
  const limiters: Array<[string, boolean, (concurrency: number) => Limit]> = [
    ['unwedge Semaphore.run', true, bench('unwedge Semaphore.run')],
    [
      'unwedge WorkerPool.run',
      true,
      (c) => {
        const pool = new WorkerPool({ concurrency: c });
        return (fn) => pool.run(fn);
      },
    ],
    ['p-limit', true, bench('p-limit')],
    ['p-queue', false, bench('p-queue')],
    ['fastq', false, bench('fastq')],
    ['@henrygd/queue', false, bench('@henrygd/queue')],
    [
      '@henrygd/queue/async-storage',
      true,
      (c) => {
        const queue = newContextQueue(c);
        return (fn) => queue.add(fn);
      },
    ],
    ['async-sema (await acquire(), then the task)', true, bench('async-sema')],
    ['cockatiel bulkhead', false, bench('cockatiel bulkhead')],
    [
      'async-mutex runExclusive',
      true,
      (c) => {
        const sem = new MutexSemaphore(c);
        return (fn) => sem.runExclusive(fn);
      },
    ],
  ];

  test.each(
    limiters.map(([name, keeps, make]): [string, boolean, (concurrency: number) => Limit] => [
      `${name}: ${keeps ? "yes, in its caller's" : 'no, in that of the task whose end started it'}`,
      keeps,
      make,
    ]),
  )('%s', async (_, keeps, make) => {
    expect(await keepsCallersContext(make)).toBe(keeps);
  });
});

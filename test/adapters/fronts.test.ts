import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pLimit from 'p-limit';
import PQueue from 'p-queue';
import { Piscina } from 'piscina';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { LimitPool } from '../../src/adapters/p-limit.js';
import { PQueuePool } from '../../src/adapters/p-queue.js';
import { PiscinaPool } from '../../src/adapters/piscina.js';
import { ClosedError, QueueFullError, TimeoutError } from '../../src/errors.js';
import { type JobSpec, poolContract, subjectOf, taskOf, ticks } from '../pool/contract.js';
import { deferred, track } from '../support/promises.js';

const WORKER = new URL('../fixtures/pool-worker.cjs', import.meta.url).href;

poolContract({
  name: 'p-queue front',
  fakeTime: true,
  stubborn: true,
  make: ({ concurrency, ...options }) =>
    subjectOf(new PQueuePool(new PQueue({ concurrency }), options), taskOf),
});

poolContract({
  name: 'p-limit front',
  fakeTime: true,
  stubborn: true,
  make: ({ concurrency, ...options }) => subjectOf(new LimitPool(pLimit(concurrency), options), taskOf),
});

const piscinas: PiscinaPool[] = [];
poolContract({
  name: 'piscina front',
  fakeTime: false, // worker threads need the real event loop
  stubborn: false, // an aborted task's thread is terminated: it cannot ignore the abort
  make: ({ concurrency, ...options }) => {
    const piscina = new Piscina({ filename: WORKER, minThreads: concurrency, maxThreads: concurrency });
    const pool = new PiscinaPool(piscina, options);
    piscinas.push(pool);
    return subjectOf(pool, (job: JobSpec) =>
      job.kind === 'gate'
        ? { kind: 'gate', state: job.gate.state, log: job.gate.log.slots, id: job.gate.id, value: job.value }
        : job,
    );
  },
  cleanup: async () => {
    await Promise.all(piscinas.splice(0).map((p) => p.shutdown()));
  },
});

// What p-queue's clear() and p-limit's clearQueue() do on their own (their promises stay pending) is
// shown in test/adapters/peers.test.ts, with the other peers of the README's comparison.
describe('fronts on fake timers', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  test('through the p-queue front, shutdown settles every promise it handed out', async () => {
    const queue = new PQueue({ concurrency: 1 });
    const pool = new PQueuePool(queue, { name: 'thumbs' });
    const gate = deferred();
    const running = track(pool.run(() => gate.promise));
    const queued = [track(pool.run(() => 'a')), track(pool.run(() => 'b'))];
    expect(queue.size).toBe(2);
    expect(await pool.shutdown()).toEqual({ cancelled: 2, aborted: 1, stillRunning: 1 });
    expect(queue.size).toBe(0); // the front's entries left the queue
    await ticks();
    expect([running, ...queued].map((t) => t.reason instanceof ClosedError)).toEqual([true, true, true]);
    gate.resolve();
    await pool.idle();
    await ticks(); // p-queue counts the task done a few microtasks later
    expect(queue.pending).toBe(0);
  });

  test('the p-queue front: an already-aborted signal rejects at once and adds nothing to the queue', async () => {
    const queue = new PQueue({ concurrency: 1 });
    const pool = new PQueuePool(queue);
    const reason = new Error('gone');
    const run = track(pool.run(() => 1, { signal: AbortSignal.abort(reason) }));
    await ticks(1);
    expect(run.reason).toBe(reason);
    expect([queue.size, queue.pending]).toEqual([0, 0]);
  });

  test('the p-queue front shares the limit with the queue’s other users and keeps its priorities', async () => {
    const queue = new PQueue({ concurrency: 1 });
    const pool = new PQueuePool(queue);
    const order: string[] = [];
    const gate = deferred();
    const blocker = queue.add(() => gate.promise);
    const viaFront = pool.run(() => order.push('front'));
    const urgent = queue.add(() => order.push('urgent'), { priority: 1 });
    expect(pool.queued).toBe(1);
    gate.resolve();
    await Promise.all([blocker, viaFront, urgent]);
    expect(order).toEqual(['urgent', 'front']);
  });

  test('the p-queue front: queueTimeout 0 runs when the queue has room, and maxQueue counts the queue', async () => {
    const queue = new PQueue({ concurrency: 1 });
    const pool = new PQueuePool(queue, { maxQueue: 1 });
    await expect(pool.run(() => 'now', { queueTimeout: 0 })).resolves.toBe('now');
    const gate = deferred();
    const blocker = queue.add(() => gate.promise);
    const foreign = queue.add(() => 'foreign');
    await expect(pool.run(() => 'late')).rejects.toThrow(QueueFullError);
    gate.resolve();
    await Promise.all([blocker, foreign]);
    pool.concurrency = 2;
    expect(queue.concurrency).toBe(2);
    expect(pool.concurrency).toBe(2);
    expect(() => {
      pool.concurrency = 0;
    }).toThrow(RangeError);
  });

  test('through the p-limit front, shutdown settles every promise, and withdrawn entries never run', async () => {
    const limit = pLimit(1);
    const pool = new LimitPool(limit, { name: 'uploads' });
    const gate = deferred();
    const called: string[] = [];
    const running = track(pool.run(() => gate.promise));
    await ticks();
    const queued = [track(pool.run(() => called.push('a'))), track(pool.run(() => called.push('b')))];
    expect(limit.pendingCount).toBe(2);
    expect(await pool.shutdown()).toEqual({ cancelled: 2, aborted: 1, stillRunning: 1 });
    await ticks();
    expect([running, ...queued].map((t) => t.reason instanceof ClosedError)).toEqual([true, true, true]);
    gate.resolve();
    await pool.idle();
    await ticks();
    expect(limit.pendingCount).toBe(0); // the entries were reached and returned without calling
    expect(called).toEqual([]);
  });

  test('the p-limit front: an already-aborted signal rejects at once and adds nothing to the limiter', async () => {
    const limit = pLimit(1);
    const pool = new LimitPool(limit);
    const run = track(pool.run(() => 1, { signal: AbortSignal.abort('left') }));
    await ticks(1);
    expect(run.reason).toBe('left');
    expect([limit.activeCount, limit.pendingCount]).toEqual([0, 0]);
  });

  test('the p-limit front: a limiter cleared with rejectOnClear rejects the queued run()s with its error', async () => {
    const limit = pLimit({ concurrency: 1, rejectOnClear: true });
    const pool = new LimitPool(limit);
    const gate = deferred();
    const running = pool.run(() => gate.promise);
    await ticks();
    const queued = track(pool.run(() => 'x'));
    limit.clearQueue();
    await ticks();
    expect((queued.reason as Error).name).toBe('AbortError');
    expect(pool.queued).toBe(0);
    gate.resolve();
    await running;
    expect(pool.concurrency).toBe(1);
    pool.concurrency = 3;
    expect(limit.concurrency).toBe(3);
  });

  test('the fronts validate what they are given', () => {
    expect(() => new PQueuePool({} as never)).toThrow(/queue.add must be a function/);
    expect(() => new LimitPool({} as never)).toThrow(/limit must be a function/);
    expect(() => new PQueuePool(new PQueue(), { maxQueue: -1 })).toThrow(RangeError);
    expect(() => new PiscinaPool({} as never)).toThrow(/piscina.run must be a function/);
  });

  test('nested submission through a front runs on the parent’s slot', async () => {
    const pool = new LimitPool(pLimit(1));
    const result = await pool.run(() => Promise.all([pool.run(() => 1), pool.run(() => 2)]));
    expect(result).toEqual([1, 2]);
  });
});

describe('piscina front', () => {
  test('run options reach piscina: the exported function by name; bad options reject', async () => {
    const piscina = new Piscina({ filename: WORKER, maxThreads: 1 });
    const pool = new PiscinaPool<unknown, unknown>(piscina, { timeout: 5_000 });
    try {
      expect(pool.concurrency).toBe(1);
      await expect(pool.run({ kind: 'value', value: 3 }, { name: 'default' })).resolves.toBe(3);
      await expect(pool.run({ kind: 'value', value: 3 }, { name: 5 as never })).rejects.toThrow(
        /options.name/,
      );
      await expect(pool.run({ kind: 'value' }, { queueTimeout: -1 })).rejects.toThrow(/options.queueTimeout/);
    } finally {
      await pool.shutdown();
    }
  });

  test('a timeout while running terminates the worker and rejects with TimeoutError', async () => {
    const piscina = new Piscina({ filename: WORKER, maxThreads: 1 });
    const pool = new PiscinaPool(piscina, { name: 'cpu' });
    try {
      const state = new Int32Array(new SharedArrayBuffer(8));
      await expect(pool.run({ kind: 'spin', state }, { timeout: 100 })).rejects.toThrow(TimeoutError);
      await pool.idle({ timeout: 2_000 });
      await expect(pool.run({ kind: 'value', value: 'next' })).resolves.toBe('next');
    } finally {
      await pool.shutdown();
    }
  });

  /** Runs the spin fixture in a child process; kills it `killAfter` ms after it reports spinning. */
  async function spinChild(mode: 'shutdown' | 'naive', killAfter: number) {
    const script = fileURLToPath(new URL('../fixtures/piscina-spin.fixture.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script, mode], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let mark = 0;
    let killer: ReturnType<typeof setTimeout> | undefined;
    const guard = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (mark === 0 && out.includes(mode === 'shutdown' ? 'shutdown resolved' : 'spinning')) {
        mark = performance.now();
        killer = setTimeout(() => child.kill('SIGKILL'), killAfter);
      }
    });
    child.stderr.resume();
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) =>
      child.on('exit', (c, s) => resolve([c, s])),
    );
    const ms = performance.now() - mark;
    clearTimeout(killer);
    clearTimeout(guard);
    return { out, code, signal, ms };
  }

  test('shutdown ends a worker stuck in while (true) {} and the process exits within 1 s', async () => {
    const run = await spinChild('shutdown', 5_000);
    expect(run.out).toContain('spinning');
    expect(run.out).toMatch(/shutdown resolved \{"cancelled":0,"aborted":1,"stillRunning":0\}/);
    expect([run.code, run.signal]).toEqual([0, null]);
    expect(run.ms).toBeLessThan(1_000);
  });

  test('without shutdown, the spinning worker keeps the process alive (killed after 1.5 s)', async () => {
    const run = await spinChild('naive', 1_500);
    expect(run.out).toContain('spinning');
    expect(run.signal).toBe('SIGKILL');
    expect(run.ms).toBeGreaterThanOrEqual(1_500);
  });
});

// The pool contract, as one suite run against every variant: WorkerPool and each front in
// src/adapters (as async-mutex runs one suite against every semaphore). A variant turns job specs
// into its own kind of task (a function in-process, a message to a worker thread for piscina).
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { ClosedError, QueueFullError, TimeoutError } from '../../src/errors.js';
import type { Pool, PoolRunOptions } from '../../src/pool/index.js';
import { track } from '../support/promises.js';

// Node 20 has Atomics.waitAsync; TypeScript's ES2023 lib does not declare it.
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;
type WaitAsync = (
  view: Int32Array,
  index: number,
  value: number,
  timeout?: number,
) => { async: false; value: string } | { async: true; value: Promise<string> };

/** A task the test controls: it records when it starts and finishes when the test opens it. */
export class Gate {
  /** [started, opened], shared with worker threads. */
  readonly state = new Int32Array(new SharedArrayBuffer(8));
  readonly opened: Promise<void>;
  private openIt!: () => void;
  constructor(
    readonly id: number,
    readonly log: Log,
  ) {
    this.opened = new Promise((resolve) => {
      this.openIt = resolve;
    });
  }

  markStarted(): void {
    this.log.add(this.id);
    Atomics.store(this.state, 0, 1);
    Atomics.notify(this.state, 0);
  }

  get isStarted(): boolean {
    return Atomics.load(this.state, 0) === 1;
  }

  /** Resolves once the task has started (in this thread or a worker). */
  async started(): Promise<void> {
    while (!this.isStarted) {
      const wait = waitAsync(this.state, 0, 0, 50);
      if (wait.async) await wait.value;
    }
  }

  open(): void {
    Atomics.store(this.state, 1, 1);
    Atomics.notify(this.state, 1);
    this.openIt();
  }
}

/** Start order of gated tasks, shared with worker threads. */
export class Log {
  readonly slots = new Int32Array(new SharedArrayBuffer(4 * 257));
  add(id: number): void {
    const i = Atomics.add(this.slots, 0, 1);
    Atomics.store(this.slots, i + 1, id);
  }
  ids(): number[] {
    return Array.from(this.slots.subarray(1, 1 + Atomics.load(this.slots, 0)));
  }
}

/**
 * What a task does. `gate`: starts, then waits for the gate; on abort it rejects with its signal's
 * reason, unless `stubborn` (it ignores the abort and settles only when the gate opens).
 */
export type JobSpec =
  | { kind: 'value'; value: unknown }
  | { kind: 'error'; message: string }
  | { kind: 'gate'; gate: Gate; value: unknown; stubborn: boolean };

/** What the suite drives: the pool contract over job specs. */
export type Subject = Pool<JobSpec>;

/** The contract's view of a pool whose `run` takes `In`. */
export function subjectOf<In>(pool: Pool<In>, input: (job: JobSpec) => In): Subject {
  return {
    run: (job: JobSpec, o?: PoolRunOptions) => pool.run(input(job), o),
    shutdown: (o) => pool.shutdown(o),
    idle: (o) => pool.idle(o),
    get active() {
      return pool.active;
    },
    get queued() {
      return pool.queued;
    },
    get abandoned() {
      return pool.abandoned;
    },
    get closed() {
      return pool.closed;
    },
    [Symbol.asyncDispose]: () => pool[Symbol.asyncDispose](),
  };
}

export interface Variant {
  name: string;
  /** Fake timers for time; false for worker threads, which need the real event loop. */
  fakeTime: boolean;
  /** Whether a task can ignore its abort (false where abort terminates the worker). */
  stubborn: boolean;
  make(options: { concurrency: number; maxQueue?: number; name?: string }): Subject;
  /** Disposes what `make` created beyond the pool, after each test. */
  cleanup?(): Promise<void>;
}

/** The in-process meaning of a job spec. */
export function taskOf(job: JobSpec): (signal: AbortSignal) => unknown {
  switch (job.kind) {
    case 'value':
      return () => job.value;
    case 'error':
      return () => Promise.reject(new Error(job.message));
    case 'gate':
      return (signal) => {
        job.gate.markStarted();
        if (job.stubborn) return job.gate.opened.then(() => job.value);
        return new Promise((resolve, reject) => {
          const onAbort = () => reject(signal.reason);
          signal.addEventListener('abort', onAbort, { once: true });
          job.gate.opened.then(() => {
            signal.removeEventListener('abort', onAbort);
            resolve(job.value);
          });
        });
      };
  }
}

/** Lets promise continuations run (no timer moves). */
export async function ticks(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

export function poolContract(variant: Variant): void {
  describe(`pool contract: ${variant.name}`, () => {
    let log: Log;
    let gates: Gate[];
    let subjects: Subject[];
    let nextId: number;

    beforeEach(() => {
      if (variant.fakeTime) vi.useFakeTimers();
      log = new Log();
      gates = [];
      subjects = [];
      nextId = 1;
    });

    afterEach(async () => {
      for (const s of subjects) void s.shutdown();
      for (const g of gates) g.open();
      if (variant.fakeTime) await vi.advanceTimersByTimeAsync(0);
      for (const s of subjects) await s.idle({ timeout: 5_000 });
      await variant.cleanup?.();
      vi.useRealTimers();
    });

    const make = (concurrency: number, options: { maxQueue?: number; name?: string } = {}) => {
      const s = variant.make({ concurrency, ...options });
      subjects.push(s);
      return s;
    };
    const gate = () => {
      const g = new Gate(nextId++, log);
      gates.push(g);
      return g;
    };
    const gated = (g: Gate, stubborn = false): JobSpec => ({ kind: 'gate', gate: g, value: g.id, stubborn });
    /** Moves time (fake) or waits it out (real). */
    const advance = async (ms: number) => {
      if (variant.fakeTime) await vi.advanceTimersByTimeAsync(ms);
      else await new Promise((resolve) => setTimeout(resolve, ms));
    };

    test('run settles like its task: its value, or its error', async () => {
      const pool = make(2);
      await expect(pool.run({ kind: 'value', value: 42 })).resolves.toBe(42);
      await expect(pool.run({ kind: 'error', message: 'boom' })).rejects.toThrow('boom');
      expect(pool.active).toBe(0);
    });

    test('runs at most concurrency tasks at once and starts the rest in FIFO order', async () => {
      const pool = make(2);
      const gs = [gate(), gate(), gate(), gate(), gate()];
      const runs = gs.map((g) => pool.run(gated(g)));
      await gs[0]!.started();
      await gs[1]!.started();
      expect(pool.active).toBe(2);
      expect(pool.queued).toBe(3);
      for (let i = 0; i < gs.length; i++) {
        gs[i]!.open();
        await expect(runs[i]).resolves.toBe(gs[i]!.id);
        if (i + 2 < gs.length) await gs[i + 2]!.started();
        expect(pool.active).toBeLessThanOrEqual(2);
      }
      // The first two start together (in worker threads, in either order); the queued ones in FIFO order.
      const ids = log.ids();
      expect(ids.slice(0, 2).sort()).toEqual([gs[0]!.id, gs[1]!.id]);
      expect(ids.slice(2)).toEqual(gs.slice(2).map((g) => g.id));
      await pool.idle();
      expect([pool.active, pool.queued]).toEqual([0, 0]);
    });

    test('run rejects with QueueFullError at once when maxQueue tasks already wait', async () => {
      const pool = make(1, { maxQueue: 1, name: 'feeds' });
      const [a, b, c] = [gate(), gate(), gate()];
      const first = pool.run(gated(a));
      const second = track(pool.run(gated(b)));
      await a.started();
      const third = pool.run(gated(c));
      await expect(third).rejects.toThrow(QueueFullError);
      await expect(third).rejects.toThrow(/pool "feeds".*maxQueue 1/);
      expect(pool.queued).toBe(1);
      a.open();
      await first;
      await b.started();
      b.open();
      await ticks();
      await pool.idle();
      expect(second.status).toBe('fulfilled');
      expect(c.isStarted).toBe(false);
    });

    test('queueTimeout rejects with TimeoutError and the task never starts', async () => {
      const pool = make(1);
      const [a, b] = [gate(), gate()];
      const first = pool.run(gated(a));
      await a.started();
      const waiting = track(pool.run(gated(b), { queueTimeout: 50 }));
      await advance(20);
      expect(waiting.status).toBe('pending');
      await advance(40);
      expect(waiting.status).toBe('rejected');
      expect(waiting.reason).toBeInstanceOf(TimeoutError);
      expect(String(waiting.reason)).toMatch(/gave no slot within 50 ms/);
      expect(pool.queued).toBe(0);
      a.open();
      await first;
      await pool.idle();
      expect(b.isStarted).toBe(false);
    });

    test('queueTimeout 0 rejects at once when no slot is free, and runs when one is', async () => {
      const pool = make(1);
      await expect(pool.run({ kind: 'value', value: 1 }, { queueTimeout: 0 })).resolves.toBe(1);
      const a = gate();
      const first = pool.run(gated(a));
      await a.started();
      await expect(pool.run({ kind: 'value', value: 2 }, { queueTimeout: 0 })).rejects.toThrow(TimeoutError);
      a.open();
      await first;
    });

    test('an abort while queued removes the task and rejects with exactly the reason', async () => {
      const pool = make(1);
      const [a, b, c] = [gate(), gate(), gate()];
      const first = pool.run(gated(a));
      await a.started();
      const controller = new AbortController();
      const second = track(pool.run(gated(b), { signal: controller.signal }));
      const third = pool.run(gated(c));
      expect(pool.queued).toBe(2);
      const reason = new Error('client went away');
      controller.abort(reason);
      await ticks();
      expect(second.status).toBe('rejected');
      expect(second.reason).toBe(reason);
      expect(pool.queued).toBe(1);
      a.open();
      await first;
      await c.started();
      c.open();
      await expect(third).resolves.toBe(c.id);
      expect(b.isStarted).toBe(false);
      expect(log.ids()).toEqual([a.id, c.id]);
    });

    test('an already-aborted signal rejects at once with its reason and the task never starts', async () => {
      const pool = make(1);
      const reason = new Error('already gone');
      const g = gate();
      const run = track(pool.run(gated(g), { signal: AbortSignal.abort(reason) }));
      await ticks();
      expect(run.status).toBe('rejected');
      expect(run.reason).toBe(reason);
      expect([pool.active, pool.queued]).toEqual([0, 0]);
      expect(g.isStarted).toBe(false);
    });

    test('an abort while running rejects run() at once with the reason; the slot frees when the task settles', async () => {
      const pool = make(1);
      const [a, b] = [gate(), gate()];
      const controller = new AbortController();
      const first = track(pool.run(gated(a), { signal: controller.signal }));
      await a.started();
      const second = pool.run(gated(b));
      const reason = new Error('request aborted');
      controller.abort(reason);
      await ticks(2);
      expect(first.status).toBe('rejected');
      expect(first.reason).toBe(reason);
      await b.started(); // the aborted task stopped, so its slot went to the next
      b.open();
      await expect(second).resolves.toBe(b.id);
      expect(pool.abandoned).toBe(0);
    });

    if (variant.stubborn) {
      test('a task that ignores its abort keeps its slot, visible as abandoned, until it settles', async () => {
        const pool = make(1);
        const [a, b] = [gate(), gate()];
        const controller = new AbortController();
        const first = track(pool.run(gated(a, true), { signal: controller.signal }));
        await a.started();
        const second = pool.run(gated(b));
        controller.abort(new Error('gone'));
        await ticks();
        expect(first.status).toBe('rejected');
        expect([pool.active, pool.abandoned, pool.queued]).toEqual([1, 1, 1]);
        expect(b.isStarted).toBe(false); // concurrency is never exceeded
        a.open();
        await b.started();
        expect([pool.abandoned, pool.active]).toEqual([0, 1]);
        b.open();
        await expect(second).resolves.toBe(b.id);
        expect(first.status).toBe('rejected'); // the late result is dropped
      });

      test('shutdown settles every run() even when running tasks ignore their signal', async () => {
        const pool = make(2);
        const [a, b, c] = [gate(), gate(), gate()];
        const runs = [a, b, c].map((g) => track(pool.run(gated(g, true))));
        await a.started();
        await b.started();
        const report = await pool.shutdown();
        expect(report).toEqual({ cancelled: 1, aborted: 2, stillRunning: 2 });
        await ticks();
        expect(runs.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
        expect(runs.every((r) => r.reason instanceof ClosedError)).toBe(true);
        expect([pool.active, pool.abandoned]).toEqual([2, 2]);
        a.open();
        b.open();
        await pool.idle();
        expect([pool.active, pool.abandoned]).toEqual([0, 0]);
      });
    }

    test('timeout bounds the run from its start and rejects with TimeoutError at once', async () => {
      const pool = make(1);
      const [a, b] = [gate(), gate()];
      const first = pool.run(gated(a));
      await a.started();
      const second = track(pool.run(gated(b), { timeout: 50 }));
      await advance(80); // queued for 80 ms: the run timeout has not started yet
      expect(second.status).toBe('pending');
      a.open();
      await first;
      await b.started();
      await advance(60);
      expect(second.status).toBe('rejected');
      expect(second.reason).toBeInstanceOf(TimeoutError);
      expect(String(second.reason)).toMatch(/timeout of 50 ms/);
      await pool.idle({ timeout: 1_000 });
    });

    test('shutdown without drain rejects queued and running tasks with ClosedError before it returns', async () => {
      const pool = make(1, { name: 'rss' });
      const [a, b, c] = [gate(), gate(), gate()];
      const running = track(pool.run(gated(a)));
      const queued = [track(pool.run(gated(b))), track(pool.run(gated(c)))];
      await a.started();
      const shutdown = pool.shutdown();
      expect(pool.closed).toBe(true);
      const late = pool.run({ kind: 'value', value: 1 });
      await expect(late).rejects.toThrow(ClosedError);
      await expect(late).rejects.toThrow(/pool "rss" is shut down/);
      await ticks(2);
      expect(running.status).toBe('rejected');
      expect(running.reason).toBeInstanceOf(ClosedError);
      expect(queued.map((q) => q.reason instanceof ClosedError)).toEqual([true, true]);
      // stillRunning: the aborted task had not settled when shutdown returned (piscina's front
      // reports after destroying the threads, when it has).
      const report = await shutdown;
      expect(report).toMatchObject({ cancelled: 2, aborted: 1 });
      expect(report.stillRunning).toBeLessThanOrEqual(1);
      await pool.idle({ timeout: 1_000 });
      expect(pool.active).toBe(0);
      expect(b.isStarted || c.isStarted).toBe(false);
    });

    test('shutdown with drain runs what is queued, refuses new work, and resolves when all settled', async () => {
      const pool = make(1);
      const [a, b] = [gate(), gate()];
      const first = pool.run(gated(a));
      const second = pool.run(gated(b));
      await a.started();
      const shutdown = pool.shutdown({ drain: true, timeout: 1_000 });
      const state = track(shutdown);
      expect(pool.closed).toBe(true);
      await expect(pool.run({ kind: 'value', value: 0 })).rejects.toThrow(ClosedError);
      a.open();
      await expect(first).resolves.toBe(a.id);
      await b.started();
      expect(state.status).toBe('pending');
      b.open();
      await expect(second).resolves.toBe(b.id);
      expect(await shutdown).toEqual({ cancelled: 0, aborted: 0, stillRunning: 0 });
    });

    test('a drain that outlasts its timeout cancels what is left', async () => {
      const pool = make(1);
      const [a, b] = [gate(), gate()];
      const first = track(pool.run(gated(a)));
      const second = track(pool.run(gated(b)));
      await a.started();
      const shutdown = pool.shutdown({ drain: true, timeout: 100 });
      const state = track(shutdown);
      await advance(80);
      expect(state.status).toBe('pending');
      await advance(40);
      expect(await shutdown).toMatchObject({ cancelled: 1, aborted: 1 });
      expect(first.reason).toBeInstanceOf(ClosedError);
      expect(second.reason).toBeInstanceOf(ClosedError);
      expect(b.isStarted).toBe(false);
      await pool.idle({ timeout: 1_000 });
    });

    test('shutdown twice is safe, and a second call without drain cancels a drain at once', async () => {
      const pool = make(1);
      const [a, b] = [gate(), gate()];
      const first = track(pool.run(gated(a)));
      const second = track(pool.run(gated(b)));
      await a.started();
      const draining = track(pool.shutdown({ drain: true, timeout: 10_000 }));
      const report = await pool.shutdown();
      expect(report).toMatchObject({ cancelled: 1, aborted: 1 });
      await ticks();
      expect(first.reason).toBeInstanceOf(ClosedError);
      expect(second.reason).toBeInstanceOf(ClosedError);
      await pool.idle({ timeout: 1_000 });
      await ticks();
      expect(draining.status).toBe('fulfilled');
      expect(await pool.shutdown()).toEqual({ cancelled: 0, aborted: 0, stillRunning: 0 });
    });

    test('shutdown on an idle pool resolves at once with nothing to report', async () => {
      const pool = make(3);
      expect(await pool.shutdown()).toEqual({ cancelled: 0, aborted: 0, stillRunning: 0 });
      expect(await pool.shutdown({ drain: true })).toEqual({ cancelled: 0, aborted: 0, stillRunning: 0 });
    });

    test('idle resolves at once when nothing runs, waits for running tasks, and is bounded', async () => {
      const pool = make(1);
      await pool.idle();
      const a = gate();
      const run = pool.run(gated(a));
      await a.started();
      const bounded = track(pool.idle({ timeout: 30 }));
      const reason = new Error('stop waiting');
      const aborted = track(pool.idle({ signal: AbortSignal.abort(reason) }));
      const waiting = track(pool.idle());
      await advance(40);
      expect(bounded.reason).toBeInstanceOf(TimeoutError);
      expect(aborted.reason).toBe(reason);
      expect(waiting.status).toBe('pending');
      a.open();
      await run;
      await ticks();
      await pool.idle();
      expect(waiting.status).toBe('fulfilled');
    });

    test('Symbol.asyncDispose shuts the pool down', async () => {
      const a = gate();
      let running: ReturnType<typeof track>;
      {
        await using pool = make(1);
        running = track(pool.run(gated(a)));
        await a.started();
      }
      await ticks();
      expect(running.reason).toBeInstanceOf(ClosedError);
    });
  });
}

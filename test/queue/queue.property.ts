import { getEventListeners } from 'node:events';
import fc from 'fast-check';
import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { ClosedError, QueueFullError, TimeoutError } from '../../src/errors.js';
import { BoundedQueue } from '../../src/queue/queue.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

// Every operation is applied to the real queue and, in the same synchronous step, to a model built
// on plain arrays. The model predicts each promise's outcome at the moment it is decided; after every
// step the test checks that exactly the decided promises have settled, each as predicted.

const wait = fc.record({
  timeout: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }),
  abortable: fc.boolean(),
});

const op = fc.oneof(
  { arbitrary: wait.map((o) => ({ kind: 'put' as const, ...o })), weight: 6 },
  { arbitrary: fc.constant({ kind: 'tryPut' as const }), weight: 2 },
  { arbitrary: wait.map((o) => ({ kind: 'get' as const, ...o })), weight: 5 },
  { arbitrary: fc.constant({ kind: 'tryGet' as const }), weight: 2 },
  { arbitrary: fc.constant({ kind: 'taskDone' as const }), weight: 3 },
  { arbitrary: wait.map((o) => ({ kind: 'join' as const, ...o })), weight: 2 },
  { arbitrary: fc.constant({ kind: 'close' as const }), weight: 1 },
  { arbitrary: fc.constant({ kind: 'shutdown' as const }), weight: 1 },
  { arbitrary: fc.nat(40).map((target) => ({ kind: 'abort' as const, target })), weight: 3 },
  { arbitrary: fc.constant({ kind: 'tick' as const }), weight: 4 },
);
type Op = typeof op extends fc.Arbitrary<infer O> ? O : never;

type Outcome = 'ok' | 'full' | 'timeout' | 'closed' | 'aborted' | `got ${number}`;
interface Parked {
  op: number;
  deadline: number | undefined;
  item?: number;
}

class Model {
  state: 'open' | 'closed' | 'shutdown' = 'open';
  buffer: number[] = [];
  putters: Parked[] = [];
  getters: Parked[] = [];
  joiners: Parked[] = [];
  taken = 0;
  now = 0;
  readonly expected = new Map<number, Outcome>();
  constructor(readonly capacity: number) {}

  offer(item: number): boolean {
    const getter = this.getters.shift();
    if (getter !== undefined) {
      this.taken++;
      this.expected.set(getter.op, `got ${item}`);
      return true;
    }
    if (this.buffer.length === this.capacity) return false;
    this.buffer.push(item);
    return true;
  }

  take(): number {
    const item = this.buffer.shift()!;
    this.taken++;
    const putter = this.putters.shift();
    if (putter !== undefined) {
      this.buffer.push(putter.item!);
      this.expected.set(putter.op, 'ok');
    }
    return item;
  }

  put(i: number, timeout: number | undefined, aborted: boolean): void {
    if (aborted) this.expected.set(i, 'aborted');
    else if (this.state !== 'open') this.expected.set(i, 'closed');
    else if (this.offer(i)) this.expected.set(i, 'ok');
    else if (timeout === 0) this.expected.set(i, 'full');
    else this.putters.push({ op: i, item: i, deadline: this.deadline(timeout) });
  }

  get(i: number, timeout: number | undefined, aborted: boolean): void {
    if (aborted) this.expected.set(i, 'aborted');
    else if (this.buffer.length > 0) this.expected.set(i, `got ${this.take()}`);
    else if (this.state !== 'open') this.expected.set(i, 'closed');
    else if (timeout === 0) this.expected.set(i, 'timeout');
    else this.getters.push({ op: i, deadline: this.deadline(timeout) });
  }

  join(i: number, timeout: number | undefined, aborted: boolean): void {
    if (aborted) this.expected.set(i, 'aborted');
    else if (this.buffer.length + this.taken === 0) this.expected.set(i, 'ok');
    else if (timeout === 0) this.expected.set(i, 'timeout');
    else this.joiners.push({ op: i, deadline: this.deadline(timeout) });
  }

  taskDone(): void {
    this.taken--;
    if (this.taken === 0 && this.buffer.length === 0) this.releaseJoiners();
  }

  shutdown(immediate: boolean): void {
    if (this.state === 'shutdown' || (this.state === 'closed' && !immediate)) return;
    this.state = immediate ? 'shutdown' : 'closed';
    this.settleAll(this.putters, 'closed');
    if (immediate) {
      this.buffer = [];
      if (this.taken === 0) this.releaseJoiners();
    }
    this.settleAll(this.getters, 'closed');
  }

  abort(target: number): void {
    for (const line of [this.putters, this.getters, this.joiners]) {
      const at = line.findIndex((p) => p.op === target);
      if (at !== -1) {
        line.splice(at, 1);
        this.expected.set(target, 'aborted');
      }
    }
  }

  tick(): void {
    this.now++;
    for (const [line, outcome] of [
      [this.putters, 'full'],
      [this.getters, 'timeout'],
      [this.joiners, 'timeout'],
    ] as const) {
      for (const p of line.filter((p) => p.deadline !== undefined && p.deadline <= this.now)) {
        line.splice(line.indexOf(p), 1);
        this.expected.set(p.op, outcome);
      }
    }
  }

  parked(i: number): boolean {
    return [this.putters, this.getters, this.joiners].some((line) => line.some((p) => p.op === i));
  }

  private deadline(timeout: number | undefined): number | undefined {
    return timeout === undefined ? undefined : this.now + timeout;
  }

  private releaseJoiners(): void {
    this.settleAll(this.joiners, 'ok');
  }

  private settleAll(line: Parked[], outcome: Outcome): void {
    for (const p of line.splice(0)) this.expected.set(p.op, outcome);
  }
}

test('interleaved put/tryPut/get/tryGet/taskDone/join/close/shutdown/abort/timeout match an array model', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.scheduler(),
      fc.integer({ min: 1, max: 3 }),
      fc.array(op, { minLength: 1, maxLength: 30 }),
      async (s, capacity, ops) => {
        vi.clearAllTimers(); // a failed run must not leave its timers to the next (shrinking) one
        const queue = new BoundedQueue<number>({ capacity });
        const model = new Model(capacity);
        const controllers = ops.map(() => new AbortController());
        const reasons = ops.map((_, i) => new Error(`abort ${i}`));
        const actual = new Map<number, Outcome | 'pending'>();
        const gotOrder: number[] = [];

        const observe = (i: number, promise: Promise<unknown>) => {
          actual.set(i, 'pending');
          promise.then(
            (value) => {
              if (typeof value === 'number') gotOrder.push(value);
              actual.set(i, typeof value === 'number' ? `got ${value}` : 'ok');
            },
            (error: unknown) => {
              if (error === reasons[i]) actual.set(i, 'aborted');
              else if (error instanceof QueueFullError) actual.set(i, 'full');
              else if (error instanceof TimeoutError) actual.set(i, 'timeout');
              else if (error instanceof ClosedError) actual.set(i, 'closed');
              else throw error;
            },
          );
        };

        const apply = (o: Op, i: number): void => {
          const signal = 'abortable' in o && o.abortable ? controllers[i]!.signal : undefined;
          const aborted = signal?.aborted ?? false;
          switch (o.kind) {
            case 'put':
              observe(i, queue.put(i, { timeout: o.timeout, signal }));
              model.put(i, o.timeout, aborted);
              break;
            case 'get':
              observe(i, queue.get({ timeout: o.timeout, signal }));
              model.get(i, o.timeout, aborted);
              break;
            case 'join':
              observe(i, queue.join({ timeout: o.timeout, signal }));
              model.join(i, o.timeout, aborted);
              break;
            case 'tryPut':
              if (model.state !== 'open') expect(() => queue.tryPut(i)).toThrow(ClosedError);
              else expect(queue.tryPut(i)).toBe(model.offer(i));
              break;
            case 'tryGet':
              if (model.buffer.length > 0) expect(queue.tryGet()).toBe(model.take());
              else if (model.state === 'open') expect(queue.tryGet()).toBeUndefined();
              else expect(() => queue.tryGet()).toThrow(ClosedError);
              break;
            case 'taskDone':
              if (model.taken === 0) expect(() => queue.taskDone()).toThrow(RangeError);
              else {
                queue.taskDone();
                model.taskDone();
              }
              break;
            case 'close':
              queue.close();
              model.shutdown(false);
              break;
            case 'shutdown':
              queue.shutdown({ immediate: true });
              model.shutdown(true);
              break;
            case 'abort':
              if (o.target < ops.length) {
                const target = ops[o.target]!;
                controllers[o.target]!.abort(reasons[o.target]);
                if ('abortable' in target && target.abortable) model.abort(o.target);
              }
              break;
            case 'tick':
              vi.advanceTimersByTime(1); // synchronous: every timer due now fires before anything else runs
              model.tick();
              break;
          }
          expect(queue.size).toBe(model.buffer.length);
          expect(queue.size).toBeLessThanOrEqual(capacity);
          expect(queue.unfinished).toBe(model.buffer.length + model.taken);
          expect(queue.closed).toBe(model.state !== 'open');
        };

        /** Exactly the promises the model has decided have settled, each as it predicted. */
        const check = (): void => {
          for (const [i, outcome] of actual) {
            const expected = model.expected.get(i);
            if (expected === undefined) {
              expect(model.parked(i), `op ${i} is parked`).toBe(true);
              expect(outcome, `op ${i} (${ops[i]!.kind}) settled early`).toBe('pending');
            } else {
              expect(outcome, `op ${i} (${ops[i]!.kind})`).toBe(expected);
            }
          }
        };

        const steps = ops.map((o, i) =>
          s.schedule(Promise.resolve(), `${i}: ${JSON.stringify(o)}`).then(() => apply(o, i)),
        );
        while (s.count() > 0) {
          await s.waitOne();
          await vi.advanceTimersByTimeAsync(0);
          check();
        }
        await Promise.all(steps);

        // Wind down: finish what was taken, shut down, and every promise has settled as predicted.
        while (model.taken > 0) {
          queue.taskDone();
          model.taskDone();
        }
        queue.shutdown({ immediate: true });
        model.shutdown(true);
        await vi.advanceTimersByTimeAsync(0);
        check();
        expect([...actual.values()]).not.toContain('pending');
        // No item was taken twice, and items came out in the order they went in.
        expect(new Set(gotOrder).size).toBe(gotOrder.length);
        expect(queue.unfinished).toBe(0);
        expect(vi.getTimerCount(), 'timers').toBe(0);
        for (const c of controllers) expect(getEventListeners(c.signal, 'abort')).toHaveLength(0);
      },
    ),
    { numRuns: 300, verbose: 1 },
  );
});

test('tryPut/tryGet sequences keep FIFO order and never exceed the capacity (model: an array)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 40 }),
      fc.array(fc.boolean(), { maxLength: 300 }),
      (capacity, steps) => {
        const queue = new BoundedQueue<number>({ capacity });
        const model: number[] = [];
        let next = 0;
        for (const isPut of steps) {
          if (isPut) {
            const fits = model.length < capacity;
            expect(queue.tryPut(next)).toBe(fits);
            if (fits) model.push(next);
            next++;
          } else {
            expect(queue.tryGet()).toBe(model.shift());
          }
          expect(queue.size).toBe(model.length);
        }
      },
    ),
  );
});

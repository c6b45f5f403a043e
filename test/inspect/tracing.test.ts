// The TracingChannels `unwedge:wait` and `unwedge:run`, and `unwedge:refused`: what an APM or
// unwedge/otel subscribes to. Each wait's start is published in its caller's async context and its
// end once, with how it ended; each run's start in its caller's context (also when it waited in
// line) through runStores, its end when the task really settles, abandoned or not.
import { AsyncLocalStorage } from 'node:async_hooks';
import { subscribe, tracingChannel, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { ClosedError, QueueFullError, TimeoutError } from '../../src/errors.js';
import { channels, type RefusedMessage, type RunTrace, type WaitTrace } from '../../src/inspect/index.js';
import { WorkerPool } from '../../src/pool/index.js';
import { BoundedQueue } from '../../src/queue/queue.js';
import { TaskRegistry } from '../../src/registry/registry.js';
import { Semaphore } from '../../src/semaphore/semaphore.js';
import { flush, onFakeTimeWithDefaults } from '../support/inspect.js';
import { track } from '../support/promises.js';

onFakeTimeWithDefaults();

const request = new AsyncLocalStorage<string>();
const stops: Array<() => void> = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

type Event = 'start' | 'end' | 'asyncStart' | 'asyncEnd' | 'error';
const EVENTS: Event[] = ['start', 'end', 'asyncStart', 'asyncEnd', 'error'];

/** Every event of one TracingChannel, with a copy of its message and the caller's request id then. */
function record<M extends { name: string | undefined }>(name: string, only: string) {
  const events: Array<{ event: Event; request: string | undefined; message: M }> = [];
  const traced = tracingChannel<unknown, M>(name);
  const handlers = Object.fromEntries(
    EVENTS.map((event) => [
      event,
      (message: M) => {
        if (message.name === only)
          events.push({ event, request: request.getStore(), message: { ...message } });
      },
    ]),
  ) as unknown as Parameters<typeof traced.subscribe>[0];
  traced.subscribe(handlers);
  stops.push(() => traced.unsubscribe(handlers));
  return events;
}

describe('unwedge:wait', () => {
  test('a parked wait publishes start and end in its caller’s context, then error, asyncStart and asyncEnd once when it times out', async () => {
    const events = record<WaitTrace>(channels.wait, 'tr-sem');
    const sem = new Semaphore(1, { name: 'tr-sem' });
    const held = await sem.acquire(); // granted at once: not a wait
    expect(events).toEqual([]);
    const waiting = request.run('req-1', () => track(sem.acquire({ timeout: 50 })));
    expect(events.map((e) => [e.event, e.request])).toEqual([
      ['start', 'req-1'],
      ['end', 'req-1'],
    ]);
    expect(events[0]!.message).toMatchObject({ kind: 'semaphore', what: 'acquire 1 permit', timeout: 50 });
    await vi.advanceTimersByTimeAsync(50);
    expect(waiting.reason).toBeInstanceOf(TimeoutError);
    expect(events.map((e) => e.event)).toEqual(['start', 'end', 'error', 'asyncStart', 'asyncEnd']);
    const last = events.at(-1)!.message;
    expect(last.outcome).toBe('timeout');
    expect(last.duration).toBe(50);
    expect(last.error).toBe(waiting.reason);
    held.release();
    await flush();
    expect(events).toHaveLength(5); // ended once
  });

  test('a granted wait ends without an error event; a closed queue’s waiting put ends closed with its ClosedError', async () => {
    const events = record<WaitTrace>(channels.wait, 'tr-queue');
    const queue = new BoundedQueue<number>({ capacity: 1, name: 'tr-queue' });
    queue.tryPut(1);
    const second = track(queue.put(2));
    const third = track(queue.put(3));
    expect(queue.tryGet()).toBe(1);
    await flush();
    expect(second.status).toBe('fulfilled');
    queue.close();
    await flush();
    expect(third.reason).toBeInstanceOf(ClosedError);
    const ends = events
      .filter((e) => e.event === 'asyncEnd')
      .map((e) => [e.message.outcome, e.message.error]);
    expect(ends).toEqual([
      ['granted', undefined],
      ['closed', third.reason],
    ]);
    expect(events.filter((e) => e.event === 'error')).toHaveLength(1);
  });
});

describe('unwedge:run', () => {
  test('a queued pool task starts in its caller’s context, not in the one of the task that freed its slot', async () => {
    const events = record<RunTrace>(channels.run, 'tr-pool');
    const pool = new WorkerPool({ concurrency: 1, name: 'tr-pool' });
    let release!: () => void;
    const first = request.run('req-a', () => pool.run(() => new Promise<void>((r) => (release = r))));
    const second = request.run('req-b', () => pool.run(async () => 'b'));
    expect(events.map((e) => [e.event, e.request])).toEqual([
      ['start', 'req-a'],
      ['end', 'req-a'],
    ]);
    release();
    await Promise.all([first, second]);
    expect(events.map((e) => [e.event, e.request, e.message.outcome])).toEqual([
      ['start', 'req-a', undefined],
      ['end', 'req-a', undefined],
      ['asyncStart', 'req-a', 'ok'], // the first run ends before the second starts on its slot
      ['asyncEnd', 'req-a', 'ok'],
      ['start', 'req-b', undefined],
      ['end', 'req-b', undefined],
      ['asyncStart', 'req-b', 'ok'],
      ['asyncEnd', 'req-b', 'ok'],
    ]);
    expect(events[0]!.message).toMatchObject({ kind: 'pool', name: 'tr-pool', task: undefined });
  });

  test('a store bound to the run’s start is the task’s own while it runs (how an APM makes the task’s span current)', async () => {
    const span = new AsyncLocalStorage<number>();
    const start = tracingChannel<unknown, RunTrace>(channels.run).start;
    start.bindStore(span, (message) => message.id);
    stops.push(() => start.unbindStore(span));
    const pool = new WorkerPool({ concurrency: 1, name: 'tr-bound' });
    const seen = await pool.run(async () => {
      await Promise.resolve();
      return span.getStore();
    });
    expect(typeof seen).toBe('number');
    expect(span.getStore()).toBeUndefined(); // only inside the task
  });

  test('a task abandoned on its timeout ends its run when it really settles, abandoned, with the timeout as reason', async () => {
    const events = record<RunTrace>(channels.run, 'tr-abandon');
    const pool = new WorkerPool({ concurrency: 1, name: 'tr-abandon' });
    let finish!: () => void;
    const run = track(pool.run(() => new Promise<void>((r) => (finish = r)), { timeout: 100 }));
    await vi.advanceTimersByTimeAsync(100);
    expect(run.reason).toBeInstanceOf(TimeoutError);
    expect(events.map((e) => e.event)).toEqual(['start', 'end']); // still running: its slot is held
    await vi.advanceTimersByTimeAsync(400);
    finish();
    await flush();
    const end = events.at(-1)!;
    expect(end.event).toBe('asyncEnd');
    expect(end.message).toMatchObject({ outcome: 'ok', abandoned: true, duration: 500 });
    expect(end.message.reason).toBe(run.reason);
  });

  test('a registry task that gives up on its abort ends aborted; one that throws ends failed with its error', async () => {
    const events = record<RunTrace>(channels.run, 'tr-registry');
    const tasks = new TaskRegistry({ name: 'tr-registry', onError: () => {} });
    tasks.spawn(
      'poller',
      (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
    );
    const boom = new Error('boom');
    tasks.spawn('crasher', () => {
      throw boom;
    });
    await flush();
    await tasks.shutdown();
    const ends = events.filter((e) => e.event === 'asyncEnd').map((e) => [e.message.task, e.message.outcome]);
    expect(ends).toEqual([
      ['crasher', 'failed'],
      ['poller', 'aborted'],
    ]);
    expect(events.find((e) => e.event === 'error' && e.message.task === 'crasher')!.message.error).toBe(boom);
  });

  test('a consumer’s handler is a run named by its queue, with its item as task', async () => {
    const events = record<RunTrace>(channels.run, 'tr-consumer');
    const queue = new BoundedQueue<string>({ capacity: 4, name: 'tr-consumer' });
    const consumer = queue.consume(async () => {});
    queue.tryPut('job-1');
    queue.close();
    await consumer.done;
    expect(events.map((e) => [e.event, e.message.kind, e.message.task])).toEqual([
      ['start', 'consumer', 'job-1'],
      ['end', 'consumer', 'job-1'],
      ['asyncStart', 'consumer', 'job-1'],
      ['asyncEnd', 'consumer', 'job-1'],
    ]);
  });
});

describe('unwedge:refused', () => {
  test('a run refused by a full line and one refused by a shut-down pool, and a put refused by a closed queue, are each published once', async () => {
    const refusals: RefusedMessage[] = [];
    const onRefused = (m: unknown) => refusals.push(m as RefusedMessage);
    subscribe(channels.refused, onRefused);
    stops.push(() => unsubscribe(channels.refused, onRefused));
    const pool = new WorkerPool({ concurrency: 1, maxQueue: 0, name: 'tr-refused' });
    const running = pool.run(() => new Promise<void>((r) => setTimeout(r, 10)));
    const full = track(pool.run(async () => {}));
    await flush();
    expect(full.reason).toBeInstanceOf(QueueFullError);
    await vi.advanceTimersByTimeAsync(10);
    await running;
    await pool.shutdown();
    const closed = track(pool.run(async () => {}));
    const queue = new BoundedQueue<number>({ capacity: 1, name: 'tr-refused-queue' });
    queue.close();
    expect(() => queue.tryPut(1)).toThrow(ClosedError);
    await flush();
    expect(refusals.map((r) => [r.kind, r.name, r.what, r.error])).toEqual([
      ['pool', 'tr-refused', 'run', full.reason],
      ['pool', 'tr-refused', 'run', closed.reason],
      ['queue', 'tr-refused-queue', 'put', expect.any(ClosedError)],
    ]);
  });
});

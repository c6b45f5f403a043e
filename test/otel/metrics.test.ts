// unwedge/otel's metrics on the real OpenTelemetry SDK (a MeterProvider read by an in-memory
// reader): each moves as the operations say, unnamed primitives share one series per kind, and a
// stopped instrumentation records nothing more.
import { readFileSync } from 'node:fs';
import type { Histogram } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, test } from 'vitest';
import { ClosedError, DeadlockError, QueueFullError, TimeoutError } from '../../src/errors.js';
import { fanOut } from '../../src/fan-out/fan-out.js';
import { type Instrumentation, instrument } from '../../src/otel/index.js';
import { DURATION_BUCKETS_MS, METRICS } from '../../src/otel/metrics.js';
import { WorkerPool } from '../../src/pool/index.js';
import { BoundedQueue } from '../../src/queue/queue.js';
import { TaskRegistry } from '../../src/registry/registry.js';
import { Semaphore } from '../../src/semaphore/semaphore.js';
import { withTimeout } from '../../src/timeout.js';
import { countOf, meters, points, value } from './support.js';

const handles: Instrumentation[] = [];
afterEach(() => {
  for (const h of handles.splice(0)) h.stop();
});

/** instrument() with metrics only, on a fresh provider; stopped after the test. */
function setup() {
  const m = meters();
  const otel = instrument({ meterProvider: m.meterProvider, tracerProvider: false });
  handles.push(otel);
  return { ...m, otel };
}

/** Resolves once `n` turns of the event loop have passed (no timer stands in for an event). */
const turns = async (n = 3) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('Semaphore', () => {
  test('a timed-out acquire counts one timeout and one wait; a free acquire records nothing; gauges read permits and waits', async () => {
    const { collect } = setup();
    const sem = new Semaphore(2, { name: 'm-sem' });
    const held = await sem.acquire({ weight: 2 }); // granted at once: not a wait
    const name = { 'unwedge.kind': 'semaphore', 'unwedge.name': 'm-sem' };
    let all = await collect();
    expect(countOf(all, 'unwedge.semaphore.wait.duration', name)).toBe(0);
    const parked = sem.acquire({ timeout: 5 }).catch((e: unknown) => e);
    all = await collect();
    expect(value(all, 'unwedge.semaphore.permits.used', name)).toBe(2);
    expect(value(all, 'unwedge.semaphore.permits.limit', name)).toBe(2);
    expect(value(all, 'unwedge.waits', name)).toBe(1);
    expect(await parked).toBeInstanceOf(TimeoutError);
    all = await collect();
    expect(value(all, 'unwedge.timeouts', { ...name, 'unwedge.phase': 'wait' })).toBe(1);
    expect(value(all, 'unwedge.aborts', name)).toBeUndefined();
    expect(value(all, 'unwedge.rejections', name)).toBeUndefined();
    const waits = points<Histogram>(all, 'unwedge.semaphore.wait.duration', name);
    expect(waits.map((p) => [p.attributes['unwedge.outcome'], p.value.count])).toEqual([['timeout', 1]]);
    expect(waits[0]!.value.sum).toBeGreaterThanOrEqual(4);
    expect(value(all, 'unwedge.waits', name)).toBe(0);
    // A parked acquire that is granted: one more wait, outcome granted; no timeout added.
    const next = sem.acquire();
    held.release();
    (await next).release();
    all = await collect();
    expect(countOf(all, 'unwedge.semaphore.wait.duration', { ...name, 'unwedge.outcome': 'granted' })).toBe(
      1,
    );
    expect(countOf(all, 'unwedge.semaphore.wait.duration', name)).toBe(2);
    expect(value(all, 'unwedge.timeouts', { ...name, 'unwedge.phase': 'wait' })).toBe(1);
    expect(value(all, 'unwedge.semaphore.permits.used', name)).toBe(0);
  });

  test('histograms use the table’s bucket boundaries and unit', async () => {
    const { collect } = setup();
    const sem = new Semaphore(1, { name: 'm-buckets' });
    const held = await sem.acquire();
    const next = sem.acquire();
    held.release();
    (await next).release();
    const all = await collect();
    const data = all.get('unwedge.semaphore.wait.duration')!;
    expect(data.descriptor.unit).toBe('ms');
    const [point] = points<Histogram>(all, 'unwedge.semaphore.wait.duration', {
      'unwedge.name': 'm-buckets',
    });
    expect(point!.value.buckets.boundaries).toEqual(DURATION_BUCKETS_MS);
  });

  test('an aborted acquire counts one abort; a deadlock counts one deadlock and one DeadlockError rejection', async () => {
    const { collect } = setup();
    const sem = new Semaphore(1, { name: 'm-abort' });
    const held = await sem.acquire();
    const cancel = new AbortController();
    const aborted = sem.acquire({ signal: cancel.signal }).catch((e: unknown) => e);
    cancel.abort();
    await aborted;
    held.release();
    const storage = new Semaphore(1, { name: 'm-deadlock', detectDeadlocks: true });
    const nested = await storage.run(() => storage.run(async () => 'never')).catch((e: unknown) => e);
    expect(nested).toBeInstanceOf(DeadlockError);
    const all = await collect();
    expect(value(all, 'unwedge.aborts', { 'unwedge.name': 'm-abort', 'unwedge.phase': 'wait' })).toBe(1);
    expect(value(all, 'unwedge.timeouts', { 'unwedge.name': 'm-abort' })).toBeUndefined();
    const deadlock = { 'unwedge.kind': 'semaphore', 'unwedge.name': 'm-deadlock' };
    expect(value(all, 'unwedge.deadlocks', deadlock)).toBe(1);
    expect(value(all, 'unwedge.rejections', { ...deadlock, 'error.type': 'DeadlockError' })).toBe(1);
  });
});

describe('BoundedQueue', () => {
  test('a full queue’s size equals its capacity; a put refused at once and a put that timed out are each one QueueFullError', async () => {
    const { collect } = setup();
    const queue = new BoundedQueue<number>({ capacity: 2, name: 'm-queue' });
    await queue.put(1);
    await queue.put(2);
    const name = { 'unwedge.kind': 'queue', 'unwedge.name': 'm-queue' };
    let all = await collect();
    expect(value(all, 'unwedge.queue.size', name)).toBe(2);
    expect(value(all, 'unwedge.queue.capacity', name)).toBe(2);
    expect(await queue.put(3, { timeout: 0 }).catch((e: unknown) => e)).toBeInstanceOf(QueueFullError);
    expect(await queue.put(4, { timeout: 5 }).catch((e: unknown) => e)).toBeInstanceOf(QueueFullError);
    all = await collect();
    expect(value(all, 'unwedge.rejections', { ...name, 'error.type': 'QueueFullError' })).toBe(2);
    expect(value(all, 'unwedge.timeouts', { ...name, 'unwedge.phase': 'wait' })).toBe(1);
    expect(countOf(all, 'unwedge.queue.wait.duration', { ...name, 'unwedge.operation': 'put' })).toBe(1);
    // A get that parks on an empty queue and is served: operation get, outcome granted.
    expect([await queue.get(), await queue.get()]).toEqual([1, 2]);
    const getting = queue.get();
    await queue.put(5);
    expect(await getting).toBe(5);
    all = await collect();
    expect(
      countOf(all, 'unwedge.queue.wait.duration', {
        ...name,
        'unwedge.operation': 'get',
        'unwedge.outcome': 'granted',
      }),
    ).toBe(1);
    expect(value(all, 'unwedge.queue.size', name)).toBe(0);
  });

  test('a waiting put ended by close() is one ClosedError rejection; a put on the closed queue is another', async () => {
    const { collect } = setup();
    const queue = new BoundedQueue<number>({ capacity: 1, name: 'm-closed' });
    await queue.put(1);
    const waiting = queue.put(2).catch((e: unknown) => e);
    queue.close();
    expect(await waiting).toBeInstanceOf(ClosedError);
    expect(await queue.put(3).catch((e: unknown) => e)).toBeInstanceOf(ClosedError);
    const all = await collect();
    const name = { 'unwedge.name': 'm-closed' };
    expect(value(all, 'unwedge.rejections', { ...name, 'error.type': 'ClosedError' })).toBe(2);
    expect(countOf(all, 'unwedge.queue.wait.duration', { ...name, 'unwedge.outcome': 'closed' })).toBe(1);
  });

  test('a consumer’s handler runs are timed, and a failure it reports is counted', async () => {
    const { collect } = setup();
    const queue = new BoundedQueue<number>({ capacity: 4, name: 'm-consumer' });
    const consumer = queue.consume(
      async (n) => {
        if (n === 2) throw new Error('bad item');
      },
      { onError: () => {} },
    );
    await queue.put(1);
    await queue.put(2);
    queue.close();
    await consumer.done;
    const all = await collect();
    const name = { 'unwedge.kind': 'consumer', 'unwedge.name': 'm-consumer' };
    expect(countOf(all, 'unwedge.consumer.handler.duration', { ...name, 'unwedge.outcome': 'ok' })).toBe(1);
    expect(countOf(all, 'unwedge.consumer.handler.duration', { ...name, 'unwedge.outcome': 'failed' })).toBe(
      1,
    );
    // Under the kind its handler's runs have, so the two series match on their labels.
    expect(value(all, 'unwedge.task.failures', name)).toBe(1);
  });
});

describe('WorkerPool', () => {
  test('queued runs wait once each; the tasks gauge reads running and queued; a full line is one QueueFullError', async () => {
    const { collect } = setup();
    const pool = new WorkerPool({ concurrency: 1, maxQueue: 2, name: 'm-pool' });
    let release!: () => void;
    const first = pool.run(() => new Promise<void>((r) => (release = r)));
    const queued = [pool.run(async () => 'b'), pool.run(async () => 'c')];
    expect(await pool.run(async () => 'd').catch((e: unknown) => e)).toBeInstanceOf(QueueFullError);
    const name = { 'unwedge.kind': 'pool', 'unwedge.name': 'm-pool' };
    let all = await collect();
    expect(value(all, 'unwedge.pool.tasks', { ...name, 'unwedge.state': 'running' })).toBe(1);
    expect(value(all, 'unwedge.pool.tasks', { ...name, 'unwedge.state': 'queued' })).toBe(2);
    expect(value(all, 'unwedge.pool.tasks', { ...name, 'unwedge.state': 'abandoned' })).toBe(0);
    expect(value(all, 'unwedge.waits', name)).toBe(2);
    release();
    await Promise.all([first, ...queued]);
    all = await collect();
    expect(value(all, 'unwedge.rejections', { ...name, 'error.type': 'QueueFullError' })).toBe(1);
    expect(
      countOf(all, 'unwedge.pool.wait.duration', {
        ...name,
        'unwedge.operation': 'run',
        'unwedge.outcome': 'granted',
      }),
    ).toBe(2);
    expect(countOf(all, 'unwedge.pool.wait.duration', name)).toBe(2);
    expect(
      countOf(all, 'unwedge.pool.task.duration', {
        ...name,
        'unwedge.outcome': 'ok',
        'unwedge.abandoned': false,
      }),
    ).toBe(3);
    expect(value(all, 'unwedge.pool.tasks', { ...name, 'unwedge.state': 'running' })).toBe(0);
  });

  test('a task past its run timeout that ignores its signal is abandoned: gauge, then one run timeout and an abandoned run', async () => {
    const { collect } = setup();
    const pool = new WorkerPool({ concurrency: 2, name: 'm-abandon' });
    let finish!: () => void;
    const ignoring = new Promise<void>((r) => (finish = r));
    const late = pool.run(() => ignoring, { timeout: 5 }).catch((e: unknown) => e);
    expect(await late).toBeInstanceOf(TimeoutError);
    const name = { 'unwedge.kind': 'pool', 'unwedge.name': 'm-abandon' };
    let all = await collect();
    expect(value(all, 'unwedge.pool.tasks', { ...name, 'unwedge.state': 'abandoned' })).toBe(1);
    expect(value(all, 'unwedge.pool.tasks', { ...name, 'unwedge.state': 'running' })).toBe(0);
    expect(value(all, 'unwedge.timeouts', { ...name, 'unwedge.phase': 'run' })).toBeUndefined(); // not ended yet
    finish();
    await pool.idle();
    all = await collect();
    expect(value(all, 'unwedge.timeouts', { ...name, 'unwedge.phase': 'run' })).toBe(1);
    expect(countOf(all, 'unwedge.pool.task.duration', { ...name, 'unwedge.abandoned': true })).toBe(1);
    expect(value(all, 'unwedge.aborts', name)).toBeUndefined();
    // A task abandoned by its caller's signal is an abort, at run phase.
    const cancel = new AbortController();
    const run = pool.run(
      (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      {
        signal: cancel.signal,
      },
    );
    cancel.abort(new Error('client gone'));
    await run.catch(() => {});
    await pool.idle();
    all = await collect();
    expect(value(all, 'unwedge.aborts', { ...name, 'unwedge.phase': 'run' })).toBe(1);
    expect(countOf(all, 'unwedge.pool.task.duration', { ...name, 'unwedge.outcome': 'aborted' })).toBe(1);
    // A task its pool's shutdown cancels (its signal aborted with a ClosedError): no abort, no timeout.
    const stopping = pool
      .run(
        (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      )
      .catch((e: unknown) => e);
    await pool.shutdown();
    expect(await stopping).toBeInstanceOf(ClosedError);
    all = await collect();
    expect(countOf(all, 'unwedge.pool.task.duration', { ...name, 'unwedge.outcome': 'aborted' })).toBe(2);
    expect(value(all, 'unwedge.aborts', { ...name, 'unwedge.phase': 'run' })).toBe(1);
    expect(value(all, 'unwedge.timeouts', { ...name, 'unwedge.phase': 'run' })).toBe(1);
  });
});

describe('TaskRegistry', () => {
  test('tasks running are a gauge; each run is timed; a failure reported is counted once', async () => {
    const { collect } = setup();
    const tasks = new TaskRegistry({ name: 'm-registry', onError: () => {} });
    let stop!: () => void;
    tasks.spawn('poller', () => new Promise<void>((r) => (stop = r)));
    tasks.spawn('crasher', async () => {
      throw new Error('ECONNREFUSED');
    });
    await turns();
    const name = { 'unwedge.kind': 'registry', 'unwedge.name': 'm-registry' };
    let all = await collect();
    expect(value(all, 'unwedge.registry.tasks', name)).toBe(1);
    expect(value(all, 'unwedge.task.failures', name)).toBe(1);
    stop();
    await tasks.shutdown();
    all = await collect();
    expect(countOf(all, 'unwedge.registry.task.duration', { ...name, 'unwedge.outcome': 'ok' })).toBe(1);
    expect(countOf(all, 'unwedge.registry.task.duration', { ...name, 'unwedge.outcome': 'failed' })).toBe(1);
    expect(value(all, 'unwedge.registry.tasks', name)).toBe(0);
  });
});

test('unnamed primitives share one series per kind, with no unwedge.name', async () => {
  const { collect } = setup();
  const a = new Semaphore(1);
  const b = new Semaphore(2);
  const held = [await a.acquire(), await b.acquire({ weight: 2 })];
  const waiting = [a.acquire({ timeout: 5 }), b.acquire({ timeout: 5 })];
  const unnamed = { 'unwedge.kind': 'semaphore', 'unwedge.name': undefined };
  let all = await collect();
  // Other tests' unnamed semaphores may still be alive and listed, idle: they add no waits or use.
  expect(value(all, 'unwedge.waits', unnamed)).toBe(2);
  expect(value(all, 'unwedge.semaphore.permits.used', unnamed)).toBe(3);
  await Promise.allSettled(waiting);
  for (const h of held) h.release();
  all = await collect();
  expect(value(all, 'unwedge.timeouts', { ...unnamed, 'unwedge.phase': 'wait' })).toBe(2);
  expect(countOf(all, 'unwedge.semaphore.wait.duration', unnamed)).toBe(2);
  expect(points(all, 'unwedge.semaphore.wait.duration', unnamed)).toHaveLength(1);
});

test('a withTimeout or fanOut call is no admission: no wait histogram; its timeout counts at phase wait under its own kind', async () => {
  const { collect } = setup();
  await withTimeout(
    (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
    5,
  ).catch(() => {});
  await fanOut([1, 2], async (n) => n, { window: 2 });
  const all = await collect();
  expect(value(all, 'unwedge.timeouts', { 'unwedge.kind': 'withTimeout', 'unwedge.phase': 'wait' })).toBe(1);
  for (const m of METRICS.filter((d) => d.instrument === 'histogram'))
    for (const kind of ['withTimeout', 'fanOut'])
      expect(points(all, m.name, { 'unwedge.kind': kind })).toEqual([]);
});

test('every metric of the table is created, with its unit and description', async () => {
  const { collect } = setup();
  // Make one of each kind of primitive move, so that each instrument has a data point to export.
  const sem = new Semaphore(1, { name: 'm-table' });
  const held = await sem.acquire();
  await sem.acquire({ timeout: 1 }).catch(() => {});
  held.release();
  const all = await collect();
  for (const m of METRICS.filter((d) => all.has(d.name))) {
    expect(all.get(m.name)!.descriptor).toMatchObject({ unit: m.unit, description: m.description });
  }
  expect(
    [...all.keys()].filter((n) => n.startsWith('unwedge.')).every((n) => METRICS.some((m) => m.name === n)),
  ).toBe(true);
  expect(all.has('unwedge.semaphore.permits.used')).toBe(true);
  expect(all.has('unwedge.timeouts')).toBe(true);
});

describe('handles', () => {
  test('stop() records nothing more and reads no gauge; a second handle records on its own and stops alone', async () => {
    const one = setup();
    const two = setup();
    const sem = new Semaphore(1, { name: 'm-handles' });
    const held = await sem.acquire();
    await sem.acquire({ timeout: 1 }).catch(() => {});
    const timeouts = { 'unwedge.name': 'm-handles', 'unwedge.phase': 'wait' };
    expect(value(await one.collect(), 'unwedge.timeouts', timeouts)).toBe(1);
    expect(value(await two.collect(), 'unwedge.timeouts', timeouts)).toBe(1);
    one.otel.stop();
    one.otel.stop(); // idempotent
    await sem.acquire({ timeout: 1 }).catch(() => {});
    held.release(); // the gauges of a stopped handle are not read again: it never sees 0 in use
    const after = await one.collect();
    expect(value(after, 'unwedge.timeouts', timeouts)).toBe(1);
    const used = { 'unwedge.name': 'm-handles' };
    expect(points(after, 'unwedge.semaphore.permits.used', used).map((p) => p.value)).not.toContain(0);
    const other = await two.collect();
    expect(value(other, 'unwedge.timeouts', timeouts)).toBe(2);
    expect(value(other, 'unwedge.semaphore.permits.used', used)).toBe(0);
  });

  test('bad options are a TypeError naming the option', () => {
    expect(() => instrument({ meterprovider: false } as never)).toThrow(/meterprovider/);
    expect(() => instrument({ meterprovider: false } as never)).toThrow(TypeError);
    expect(() => instrument({ meterProvider: {} as never, tracerProvider: false })).toThrow(
      new TypeError('options.meterProvider must be a MeterProvider or false; received an object'),
    );
    expect(() => instrument({ meterProvider: false, tracerProvider: true as never })).toThrow(
      /^options\.tracerProvider must be a TracerProvider or false; received true$/,
    );
    expect(() => instrument('all' as never)).toThrow(TypeError);
  });

  test('the instrumentation scope is unwedge, at the package’s version', async () => {
    const { collect, reader } = setup();
    const sem = new Semaphore(1, { name: 'm-scope' });
    const held = await sem.acquire();
    await sem.acquire({ timeout: 1 }).catch(() => {});
    held.release();
    await collect();
    const { resourceMetrics } = await reader.collect();
    const scopes = resourceMetrics.scopeMetrics.map((s) => s.scope);
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    expect(scopes).toContainEqual(expect.objectContaining({ name: 'unwedge', version }));
  });
});

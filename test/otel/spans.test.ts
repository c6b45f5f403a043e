// unwedge/otel's spans on the real OpenTelemetry SDK (BasicTracerProvider, in-memory exporter,
// the AsyncLocalStorage context manager): each parked wait and each task run is a span, a child
// of its caller's span (also for a run that waited in line behind another caller's), with its
// outcome; a run's span is the active one inside its task; stop() leaves no listener.
import { hasSubscribers } from 'node:diagnostics_channel';
import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { afterEach, describe, expect, test } from 'vitest';
import { TimeoutError } from '../../src/errors.js';
import { channels } from '../../src/inspect/index.js';
import { type Instrumentation, instrument } from '../../src/otel/index.js';
import { WorkerPool } from '../../src/pool/index.js';
import { BoundedQueue } from '../../src/queue/queue.js';
import { TaskRegistry } from '../../src/registry/registry.js';
import { Semaphore } from '../../src/semaphore/semaphore.js';
import { meters, parentOf, tracers } from './support.js';

const handles: Instrumentation[] = [];
afterEach(() => {
  for (const h of handles.splice(0)) h.stop();
});

function setup() {
  const t = tracers();
  const otel = instrument({ meterProvider: false, tracerProvider: t.tracerProvider });
  handles.push(otel);
  return { ...t, otel };
}

describe('waits', () => {
  test('a parked acquire is a span under the caller’s span, ended granted; a free acquire is none', async () => {
    const { tracer, spans } = setup();
    const sem = new Semaphore(1, { name: 's-sem' });
    const caller = tracer.startSpan('request');
    const held = await context.with(trace.setSpan(context.active(), caller), () => sem.acquire());
    const next = context.with(trace.setSpan(context.active(), caller), () => sem.acquire({ timeout: 1_000 }));
    held.release();
    (await next).release();
    caller.end();
    const [wait, ...more] = spans('unwedge semaphore.acquire');
    expect(more).toEqual([]); // the free acquire made none
    expect(parentOf(wait!)).toBe(caller.spanContext().spanId);
    expect(wait!.spanContext().traceId).toBe(caller.spanContext().traceId);
    expect(wait!.attributes).toMatchObject({
      'unwedge.kind': 'semaphore',
      'unwedge.name': 's-sem',
      'unwedge.operation': 'acquire',
      'unwedge.what': 'acquire 1 permit',
      'unwedge.timeout': 1_000,
      'unwedge.outcome': 'granted',
    });
    expect(wait!.status.code).toBe(SpanStatusCode.UNSET);
  });

  test('a timed-out wait ends with outcome timeout, status ERROR and the TimeoutError recorded', async () => {
    const { spans } = setup();
    const queue = new BoundedQueue<number>({ capacity: 1, name: 's-queue' });
    const error = await queue.get({ timeout: 2 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    const [get] = spans('unwedge queue.get');
    expect(get!.attributes['unwedge.outcome']).toBe('timeout');
    expect(get!.status).toEqual({
      code: SpanStatusCode.ERROR,
      message: `TimeoutError: ${(error as Error).message}`,
    });
    expect(get!.events.map((e) => [e.name, e.attributes?.['exception.type']])).toEqual([
      ['exception', 'ERR_UNWEDGE_TIMEOUT'], // the SDK prefers an error's code to its name
    ]);
    expect(parentOf(get!)).toBeUndefined(); // no caller span: a root
  });
});

describe('runs', () => {
  test('a queued run’s wait and task spans are children of its caller’s span, not of the span whose task freed the slot', async () => {
    const { tracer, spans } = setup();
    const pool = new WorkerPool({ concurrency: 1, name: 's-pool' });
    const a = tracer.startSpan('request a');
    const b = tracer.startSpan('request b');
    let release!: () => void;
    const first = context.with(trace.setSpan(context.active(), a), () =>
      pool.run(() => new Promise<void>((r) => (release = r))),
    );
    let inside: string | undefined;
    const second = context.with(trace.setSpan(context.active(), b), () =>
      pool.run(async () => {
        inside = trace.getActiveSpan()?.spanContext().spanId;
        tracer.startSpan('db query').end(); // started in the task: a child of the task's span
      }),
    );
    release();
    await Promise.all([first, second]);
    a.end();
    b.end();
    const [queued] = spans('unwedge pool.run');
    expect(parentOf(queued!)).toBe(b.spanContext().spanId);
    expect(queued!.attributes).toMatchObject({
      'unwedge.what': 'run (queued)',
      'unwedge.outcome': 'granted',
    });
    const tasks = spans('unwedge pool.task');
    expect(tasks.map((t) => parentOf(t))).toEqual([a.spanContext().spanId, b.spanContext().spanId]);
    const task = tasks[1]!;
    expect(task.attributes).toMatchObject({
      'unwedge.kind': 'pool',
      'unwedge.name': 's-pool',
      'unwedge.outcome': 'ok',
      'unwedge.abandoned': false,
    });
    // The run's span is the active one inside its task.
    expect(inside).toBe(task.spanContext().spanId);
    expect(parentOf(spans('db query')[0]!)).toBe(task.spanContext().spanId);
  });

  test('a registry task names itself; a failed one is an ERROR; an abandoned pool task says so', async () => {
    const { spans } = setup();
    const tasks = new TaskRegistry({ name: 's-registry', onError: () => {} });
    tasks.spawn('cache-warmer', async () => {
      throw new Error('ECONNREFUSED');
    });
    await tasks.shutdown();
    const [run] = spans('unwedge registry.task');
    expect(run!.attributes).toMatchObject({
      'unwedge.task.name': 'cache-warmer',
      'unwedge.outcome': 'failed',
    });
    expect(run!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'Error: ECONNREFUSED' });
    const pool = new WorkerPool({ concurrency: 1, name: 's-abandon' });
    let finish!: () => void;
    await pool.run(() => new Promise<void>((r) => (finish = r)), { timeout: 2 }).catch(() => {});
    expect(spans('unwedge pool.task')).toEqual([]); // still running: not ended
    finish();
    await pool.idle();
    const [abandoned] = spans('unwedge pool.task');
    expect(abandoned!.attributes).toMatchObject({ 'unwedge.outcome': 'ok', 'unwedge.abandoned': true });
  });

  test('a consumer’s handler is a span per item', async () => {
    const { spans } = setup();
    const queue = new BoundedQueue<string>({ capacity: 2, name: 's-consumer' });
    const consumer = queue.consume(async () => {});
    await queue.put('a');
    await queue.put('b');
    queue.close();
    await consumer.done;
    const handled = spans('unwedge consumer.handler');
    expect(handled.map((s) => s.attributes['unwedge.name'])).toEqual(['s-consumer', 's-consumer']);
  });

  test('with another context manager, or a second handle, a run’s span still parents to its caller (the task runs in the caller’s context)', async () => {
    const { tracer, spans, tracerProvider } = setup();
    // A second handle while the first holds the context manager's store: it falls back.
    const second = tracers();
    handles.push(instrument({ meterProvider: false, tracerProvider: second.tracerProvider }));
    handles.shift()!.stop();
    // And a manager that is not OpenTelemetry's own class: no store to bind at all.
    class OtherManager extends AsyncLocalStorageContextManager {}
    context.disable();
    context.setGlobalContextManager(new OtherManager().enable());
    handles.push(instrument({ meterProvider: false, tracerProvider }));
    const pool = new WorkerPool({ concurrency: 1, name: 's-fallback' });
    const caller = tracer.startSpan('request');
    let inside: string | undefined;
    await context.with(trace.setSpan(context.active(), caller), () =>
      pool.run(async () => {
        inside = trace.getActiveSpan()?.spanContext().spanId;
      }),
    );
    caller.end();
    for (const found of [spans('unwedge pool.task'), second.spans('unwedge pool.task')]) {
      expect(found.map((t) => parentOf(t))).toEqual([caller.spanContext().spanId]);
    }
    expect(inside).toBe(caller.spanContext().spanId); // not the task's span: nothing bound it
  });
});

/** Every channel unwedge/otel may listen to, with the TracingChannels' subchannels. */
const ALL = [
  channels.waitStart,
  channels.waitEnd,
  channels.taskError,
  channels.refused,
  channels.leaseLost,
  ...['wait', 'run'].flatMap((t) =>
    ['start', 'end', 'asyncStart', 'asyncEnd', 'error'].map((e) => `tracing:unwedge:${t}:${e}`),
  ),
];

test('stop() leaves no listener on any channel, and no span after it', async () => {
  expect(ALL.filter((name) => hasSubscribers(name))).toEqual([]);
  const { spans } = setup();
  const m = meters();
  const both = instrument({ meterProvider: m.meterProvider, tracerProvider: trace.getTracerProvider() });
  expect(ALL.filter((name) => hasSubscribers(name)).length).toBeGreaterThan(0);
  expect(hasSubscribers('tracing:unwedge:run:start')).toBe(true);
  for (const h of handles.splice(0)) h.stop();
  both.stop();
  expect(ALL.filter((name) => hasSubscribers(name))).toEqual([]);
  const pool = new WorkerPool({ concurrency: 1, name: 's-stopped' });
  await pool.run(async () => {});
  expect(spans()).toEqual([]);
});

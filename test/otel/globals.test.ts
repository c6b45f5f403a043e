// instrument() with no options: the global meter and tracer providers of @opentelemetry/api, as a
// service that registers its SDK globally (NodeSDK) would have them; and the span of a withTimeout
// call, named after its kind alone (its `what` is the call's own name).
import { metrics, trace } from '@opentelemetry/api';
import { afterEach, expect, test } from 'vitest';
import { instrument } from '../../src/otel/index.js';
import { Semaphore } from '../../src/semaphore/semaphore.js';
import { withTimeout } from '../../src/timeout.js';
import { meters, tracers, value } from './support.js';

afterEach(() => {
  metrics.disable();
  trace.disable();
});

test('with no options, metrics and spans go to the global providers', async () => {
  const { meterProvider, collect } = meters();
  const { tracerProvider, spans } = tracers();
  metrics.setGlobalMeterProvider(meterProvider);
  trace.setGlobalTracerProvider(tracerProvider);
  const otel = instrument();
  try {
    const sem = new Semaphore(1, { name: 'g-sem' });
    const held = await sem.acquire();
    await sem.acquire({ timeout: 1 }).catch(() => {});
    held.release();
    await withTimeout(
      (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
      1,
      { name: 'db-connect' },
    ).catch(() => {});
  } finally {
    otel.stop();
  }
  const all = await collect();
  expect(value(all, 'unwedge.timeouts', { 'unwedge.name': 'g-sem', 'unwedge.phase': 'wait' })).toBe(1);
  expect(spans('unwedge semaphore.acquire').map((s) => s.attributes['unwedge.outcome'])).toEqual(['timeout']);
  const [call] = spans('unwedge withTimeout');
  expect(call!.attributes).toMatchObject({ 'unwedge.kind': 'withTimeout', 'unwedge.outcome': 'timeout' });
  expect(call!.attributes['unwedge.operation']).toBeUndefined();
  expect(call!.attributes['unwedge.what']).toMatch(/db-connect/);
});

/**
 * Metrics and traces through OpenTelemetry. {@link instrument} turns what unwedge publishes on
 * diagnostics_channel (each parked wait and each task run on the TracingChannels `unwedge:wait` and
 * `unwedge:run`, each refusal, reported task failure and lost lease) into the metrics of one table
 * (docs/observability.md) and into spans that nest under the caller's span, and reads the gauges
 * from the live primitives when a reader collects. Nothing is subscribed until it is called, and
 * `stop()` unsubscribes everything, so a process that does not instrument pays nothing.
 * `@opentelemetry/api` is an optional peer dependency, needed only by this subpath.
 *
 * @module unwedge/otel
 */

import { type MeterProvider, metrics, type TracerProvider, trace } from '@opentelemetry/api';
import * as check from '../core/validate.js';
import { observeGauges } from './gauges.js';
import { recordMetrics } from './record.js';
import { traceSpans } from './spans.js';

/** The instrumentation scope's name and version (the package's; test/otel checks they agree). */
const SCOPE = 'unwedge';
const VERSION = '0.1.0';

/**
 * Options of {@link instrument}.
 *
 * @example
 * ```ts
 * import { MeterProvider } from '@opentelemetry/sdk-metrics';
 * import { type InstrumentOptions, instrument } from 'unwedge/otel';
 * const options: InstrumentOptions = { meterProvider: new MeterProvider(), tracerProvider: false };
 * const otel = instrument(options); // metrics only: no span is made
 * otel.stop();
 * console.log(Object.keys(options)); // → [ 'meterProvider', 'tracerProvider' ]
 * ```
 */
export interface InstrumentOptions {
  /** Where the metrics go; default the global one (`metrics.getMeterProvider()`); `false`: no metrics. */
  meterProvider?: MeterProvider | false | undefined;
  /** Where the spans go; default the global one (`trace.getTracerProvider()`); `false`: no spans. */
  tracerProvider?: TracerProvider | false | undefined;
}

const KEYS = ['meterProvider', 'tracerProvider'] as const;

/**
 * What {@link instrument} returns: `stop()` ends the instrumentation.
 *
 * @example
 * ```ts
 * import { hasSubscribers } from 'node:diagnostics_channel';
 * import { MeterProvider } from '@opentelemetry/sdk-metrics';
 * import { type Instrumentation, instrument } from 'unwedge/otel';
 * const otel: Instrumentation = instrument({ meterProvider: new MeterProvider(), tracerProvider: false });
 * console.log(hasSubscribers('unwedge:refused')); // → true
 * otel.stop();
 * otel.stop(); // a second stop does nothing
 * console.log(hasSubscribers('unwedge:refused')); // → false
 * ```
 */
export interface Instrumentation {
  /**
   * Unsubscribes from every channel and removes the gauges' callback: nothing more is recorded and
   * no span is started or ended (a span whose wait or run is still going is left unended).
   * Idempotent.
   */
  stop(): void;
}

/**
 * Records unwedge's metrics (gauges, histograms of waits and runs in ms, counters of timeouts,
 * aborts, rejections, task failures, deadlocks and lost leases, each with `unwedge.kind` and
 * `unwedge.name`; unnamed primitives share one series per kind) on `meterProvider`, and makes a
 * span of each parked wait and each task run on `tracerProvider`, a child of the caller's span,
 * with `unwedge.outcome`. Both default to the global providers; `false` leaves one out. Each call
 * is independent: two handles each record, and each stops alone. Throws a TypeError naming an
 * unknown or ill-typed option.
 *
 * @example
 * ```ts
 * import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
 * import { BoundedQueue } from 'unwedge';
 * import { instrument } from 'unwedge/otel';
 * const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
 * const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
 * const meterProvider = new MeterProvider({ readers: [reader] });
 * const otel = instrument({ meterProvider, tracerProvider: false });
 * const jobs = new BoundedQueue<string>({ capacity: 2, name: 'otel-demo' });
 * await jobs.put('a');
 * await jobs.put('b');
 * await jobs.put('c', { timeout: 5 }).catch(() => {}); // full: waits, then times out
 * await reader.forceFlush();
 * const all = exporter.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics));
 * const value = (name: string) =>
 *   all.find((m) => m.descriptor.name === name)?.dataPoints.find((p) => p.attributes['unwedge.name'] === 'otel-demo')?.value;
 * console.log(value('unwedge.queue.size'), value('unwedge.queue.capacity'), value('unwedge.timeouts')); // → 2 2 1
 * otel.stop();
 * await meterProvider.shutdown();
 * ```
 */
export function instrument(options?: InstrumentOptions): Instrumentation {
  const o = check.options<InstrumentOptions>(options, KEYS);
  const meterProvider = provider<MeterProvider>(
    o.meterProvider,
    'options.meterProvider',
    'getMeter',
    'a MeterProvider',
  );
  const tracerProvider = provider<TracerProvider>(
    o.tracerProvider,
    'options.tracerProvider',
    'getTracer',
    'a TracerProvider',
  );
  const stops: Array<() => void> = [];
  const meters = meterProvider === false ? undefined : (meterProvider ?? metrics.getMeterProvider());
  if (meters !== undefined) {
    const meter = meters.getMeter(SCOPE, VERSION);
    stops.push(recordMetrics(meter), observeGauges(meter));
  }
  const tracers = tracerProvider === false ? undefined : (tracerProvider ?? trace.getTracerProvider());
  if (tracers !== undefined) stops.push(traceSpans(tracers.getTracer(SCOPE, VERSION)));
  return {
    stop() {
      for (const stop of stops.splice(0)) stop();
    },
  };
}

/** `false`, `undefined`, or an object with the method `method`; anything else is a TypeError naming it. */
function provider<P>(value: unknown, name: string, method: string, expected: string): P | false | undefined {
  if (value === undefined || value === false) return value;
  if (
    value === null ||
    typeof value !== 'object' ||
    typeof (value as Record<string, unknown>)[method] !== 'function'
  )
    throw new TypeError(`${name} must be ${expected} or false; received ${check.show(value)}`);
  return value as P;
}

// What the unwedge/otel tests share: the real OpenTelemetry SDK with an in-memory reader and span
// exporter, and lookups of one primitive's data points by name.
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  type DataPoint,
  type Histogram,
  MeterProvider,
  type MetricData,
  MetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterEach } from 'vitest';

/** A reader that collects when asked, and only then. */
export class TestReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** A meter provider read by a {@link TestReader}; shut down after the test. */
export function meters() {
  const reader = new TestReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  cleanups.push(() => meterProvider.shutdown());
  /** Every metric, by name, as the reader collects it now. */
  const collect = async (): Promise<Map<string, MetricData>> => {
    const { resourceMetrics, errors } = await reader.collect();
    if (errors.length > 0) throw errors[0];
    const out = new Map<string, MetricData>();
    for (const scope of resourceMetrics.scopeMetrics)
      for (const metric of scope.metrics) out.set(metric.descriptor.name, metric);
    return out;
  };
  return { meterProvider, reader, collect };
}

/** The data points of `metric` whose attributes include `match` (an attribute `undefined` must be absent). */
export function points<T = number>(
  all: Map<string, MetricData>,
  metric: string,
  match: Record<string, string | boolean | undefined>,
): DataPoint<T>[] {
  const data = all.get(metric);
  if (data === undefined) return [];
  return (data.dataPoints as DataPoint<T>[]).filter((p) =>
    Object.entries(match).every(([k, v]) => (v === undefined ? !(k in p.attributes) : p.attributes[k] === v)),
  );
}

/** The one value of `metric` for `match`; `undefined` when no data point matches; throws when several do. */
export function value(
  all: Map<string, MetricData>,
  metric: string,
  match: Record<string, string | boolean | undefined>,
) {
  const found = points(all, metric, match);
  if (found.length > 1)
    throw new Error(`${found.length} data points of ${metric} match ${JSON.stringify(match)}`);
  return found[0]?.value;
}

/** The count of the histogram `metric` for `match` (0 when absent). */
export function countOf(
  all: Map<string, MetricData>,
  metric: string,
  match: Record<string, string | boolean | undefined>,
) {
  return points<Histogram>(all, metric, match).reduce((n, p) => n + p.value.count, 0);
}

/**
 * A tracer provider writing to an in-memory exporter, with OpenTelemetry's AsyncLocalStorage
 * context manager set as the global one (disabled after the test).
 */
export function tracers() {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  cleanups.push(async () => {
    context.disable();
    await tracerProvider.shutdown();
  });
  const tracer = tracerProvider.getTracer('test');
  /** The finished spans named `name` (all when omitted). */
  const spans = (name?: string): ReadableSpan[] =>
    exporter.getFinishedSpans().filter((s) => name === undefined || s.name === name);
  return { tracerProvider, tracer, exporter, spans };
}

/** A span's parent span id, whichever field this SDK version keeps it in. */
export function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

export { trace };

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

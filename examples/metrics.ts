// Seed 004's fan-out service, instrumented: `instrument({ meterProvider })` records unwedge's metrics
// on a MeterProvider whose reader is the Prometheus exporter, served as /metrics on loopback.
// The app: `/merge` runs in a WorkerPool "merge-requests" (4 at a time, 2 more in line, the rest
// answered 503 with the QueueFullError), and downloads its 12 chunks from a loopback storage
// server with `fanOut` (window 4), each download holding a permit of one process-wide
// Semaphore(8) "chunk-downloads".
//
// The story: a burst of 10 requests while the storage server holds every answer. /metrics is
// scraped then (the limit reached, callers parked) and again once the storage server answers and
// every request is done (the histograms and the rejection counter).
//
//   npx tsx examples/metrics.ts
import { Agent } from 'node:http';
import { pathToFileURL } from 'node:url';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { fanOut, QueueFullError, Semaphore, WorkerPool } from '../src/index.js';
import { instrument } from '../src/otel/index.js';
import { fetchChunk, get, listen, type Running } from './lib/http.js';

/** Requests in the burst. */
export const BURST = 10;
/** Chunks each `/merge` downloads. */
export const CHUNKS = 12;
/** The pool's concurrency and line, the fan-out's window, the semaphore's permits. */
export const LIMITS = { concurrency: 4, maxQueue: 2, window: 4, permits: 8 } as const;
const CHUNK_MS = 5;

/** A storage server that answers each chunk after CHUNK_MS, once `open()` was called (at once if `gated` is false). */
async function storageServer(gated: boolean) {
  let inFlight = 0;
  let opened = !gated;
  const held: Array<() => void> = [];
  const server = await listen((_req, res) => {
    inFlight++;
    const answer = () =>
      setTimeout(() => {
        inFlight--;
        res.end('chunk');
      }, CHUNK_MS);
    if (opened) answer();
    else held.push(answer);
  });
  return {
    ...server,
    inFlight: () => inFlight,
    open() {
      opened = true;
      for (const answer of held.splice(0)) answer();
    },
  };
}

export interface MetricsService {
  /** The app's port: `/merge`. */
  port: number;
  /** The port serving the Prometheus exporter's `/metrics`. */
  metricsPort: number;
  /** Downloads in flight at the storage server now (answered or held). */
  storageInFlight(): number;
  /** Lets a gated storage server answer: the held chunks now, the next ones as they come. */
  openStorage(): void;
  /** Stops the instrumentation and closes the app, the exporter and the storage server. */
  close(): Promise<void>;
}

export interface MetricsServiceOptions {
  /** The storage server holds every answer until `openStorage()` (default false). */
  gated?: boolean;
}

/** Starts the instrumented fan-out service and its storage server on 127.0.0.1. */
export async function startMetricsService(options: MetricsServiceOptions = {}): Promise<MetricsService> {
  const storage = await storageServer(options.gated ?? false);
  const agent = new Agent({ keepAlive: true });
  // The exporter is the MeterProvider's reader; its own server cannot take port 0, so /metrics is
  // served here with its request handler.
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const meterProvider = new MeterProvider({ readers: [exporter] });
  const otel = instrument({ meterProvider, tracerProvider: false });

  // One per process. Its name is its series' (a primitive of the same kind and name would add to it).
  const STORAGE_CHUNKS = new Semaphore(LIMITS.permits, { name: 'chunk-downloads' });
  const requests = new WorkerPool({
    concurrency: LIMITS.concurrency,
    maxQueue: LIMITS.maxQueue,
    name: 'merge-requests',
  });
  const chunks = Array.from({ length: CHUNKS }, (_, i) => i);
  const app = await listen(async (req, res) => {
    if (req.url !== '/merge') return void res.writeHead(404).end();
    try {
      const parts = await requests.run((signal) =>
        fanOut(chunks, (c, { signal }) => fetchChunk(storage.port, c, agent, signal), {
          window: LIMITS.window,
          semaphores: [STORAGE_CHUNKS],
          signal,
        }),
      );
      res.end(`merged ${parts.length} chunks\n`);
    } catch (error) {
      res.writeHead(error instanceof QueueFullError ? 503 : 502).end(`${String(error)}\n`);
    }
  });
  const metrics: Running = await listen((req, res) => {
    if (req.url === '/metrics') exporter.getMetricsRequestHandler(req, res);
    else res.writeHead(404).end();
  });
  return {
    port: app.port,
    metricsPort: metrics.port,
    storageInFlight: storage.inFlight,
    openStorage: storage.open,
    async close() {
      otel.stop();
      await app.close();
      await metrics.close();
      await requests.shutdown();
      agent.destroy();
      await storage.close();
      await meterProvider.shutdown();
    },
  };
}

/** GETs /metrics over HTTP and returns its text. */
export async function scrape(metricsPort: number): Promise<string> {
  const reply = await get(metricsPort, '/metrics', 5_000);
  if (reply.status !== 200) throw new Error(`/metrics: ${reply.status ?? 'no answer'}`);
  return reply.body;
}

export interface MetricsStoryResult {
  /** /metrics while the storage server held every answer: 4 requests running, 2 in line. */
  during: string;
  /** /metrics once every request was answered. */
  after: string;
  /** The statuses the burst's clients got, in the order they were sent. */
  statuses: Array<number | undefined>;
}

/** Waits until `condition()` holds, checking every 5 ms; fails after `ms` naming `what`. */
async function until(condition: () => boolean, what: string, ms = 5_000): Promise<void> {
  const started = performance.now();
  while (!condition()) {
    if (performance.now() - started > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * The story: a burst of BURST requests while the storage server holds its answers; /metrics is
 * scraped once the storage server has every permit's download in flight and the refused requests
 * were answered, then again after the storage server answered and every request was done.
 */
export async function metricsStory(): Promise<MetricsStoryResult> {
  const service = await startMetricsService({ gated: true });
  try {
    const statuses: Array<number | undefined> = new Array(BURST);
    const answered = Array.from({ length: BURST }, (_, i) =>
      get(service.port, '/merge', 10_000).then((r) => {
        statuses[i] = r.status;
      }),
    );
    const refused = BURST - LIMITS.concurrency - LIMITS.maxQueue;
    await until(
      () =>
        statuses.filter((s) => s === 503).length === refused && service.storageInFlight() === LIMITS.permits,
      `${refused} requests refused and ${LIMITS.permits} downloads held at storage`,
    );
    const during = await scrape(service.metricsPort);
    service.openStorage();
    await Promise.all(answered);
    const after = await scrape(service.metricsPort);
    return { during, after, statuses };
  } finally {
    await service.close();
  }
}

/** One sample of a Prometheus text exposition: its metric name, labels and value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the samples of a Prometheus text exposition (comments skipped). */
export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    if (m === null) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[key!] = value!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/**
 * The lines of `text` worth showing: each is a sample of `name` whose labels include every one of
 * `labels`, with the exporter's scope labels left out so that a line fits in 100 columns.
 */
export function lines(text: string, name: string, labels: Record<string, string> = {}): string[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .filter((line) => Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
    .map((line) => line.replace(/,?otel_scope_[a-z_]+="[^"]*"/g, '').replace('{,', '{'));
}

/** The few lines the demo prints: the semaphore at its limit, the lines, the waits, the refusals. */
export function chosenLines(r: MetricsStoryResult): { during: string[]; after: string[] } {
  const sem = { unwedge_name: 'chunk-downloads' };
  const pool = { unwedge_name: 'merge-requests' };
  return {
    during: [
      ...lines(r.during, 'unwedge_semaphore_permits_used', sem),
      ...lines(r.during, 'unwedge_semaphore_permits_limit', sem),
      ...lines(r.during, 'unwedge_pool_tasks', { ...pool, unwedge_state: 'running' }),
      ...lines(r.during, 'unwedge_pool_tasks', { ...pool, unwedge_state: 'queued' }),
      ...lines(r.during, 'unwedge_waits', sem),
      ...lines(r.during, 'unwedge_waits', pool),
    ],
    after: [
      ...lines(r.after, 'unwedge_semaphore_wait_duration_count', sem),
      ...lines(r.after, 'unwedge_semaphore_wait_duration_bucket', { ...sem, le: '25' }),
      ...lines(r.after, 'unwedge_pool_wait_duration_count', pool),
      ...lines(r.after, 'unwedge_rejections_total', pool),
    ],
  };
}

/**
 * `line` broken after commas of its labels into lines of at most `width` columns, the first
 * indented by `indent` spaces and the rest by two more.
 */
export function breakLine(line: string, width: number, indent = 2): string[] {
  const out: string[] = [];
  let rest = line;
  let pad = ' '.repeat(indent);
  while (pad.length + rest.length > width) {
    const cut = rest.lastIndexOf(',', width - pad.length - 1);
    if (cut <= 0) break;
    out.push(`${pad}${rest.slice(0, cut + 1)}`);
    rest = rest.slice(cut + 1);
    pad = ' '.repeat(indent + 2);
  }
  out.push(`${pad}${rest}`);
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await metricsStory();
  const shown = chosenLines(r);
  console.log(`${BURST} requests at once: ${r.statuses.map((s) => s ?? 'no answer').join(' ')}`);
  console.log('/metrics while the storage server holds every answer (otel_scope_* labels left out):');
  for (const line of shown.during) console.log(breakLine(line, 100).join('\n'));
  console.log('/metrics once every request is done:');
  for (const line of shown.after) console.log(breakLine(line, 100).join('\n'));
}

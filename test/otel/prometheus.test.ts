// unwedge/otel behind a real Prometheus exporter: its request handler served by a node:http server
// on a loopback port, scraped over HTTP, the text format parsed, and unwedge's series found under
// the names this exporter (0.223.0) gives them: dots become underscores, counters end in `_total`,
// and the unit is NOT suffixed (it is given on a `# UNIT` line): `unwedge_pool_wait_duration_bucket`.
import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { afterEach, expect, test } from 'vitest';
import { instrument } from '../../src/otel/index.js';
import { WorkerPool } from '../../src/pool/index.js';
import { BoundedQueue } from '../../src/queue/queue.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function scrape(port: number): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body }),
      );
    }).on('error', reject);
  });
}

/** The samples of a text exposition: `name{labels} value` lines, comments left out. */
function parse(text: string): Array<{ name: string; labels: Record<string, string>; value: number }> {
  const samples = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    if (m === null) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[k!] = v!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

test('a Prometheus scrape over HTTP shows the pool wait histogram, the queue gauges and the rejections counter', async () => {
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const meterProvider = new MeterProvider({ readers: [exporter] });
  cleanups.push(() => meterProvider.shutdown());
  const otel = instrument({ meterProvider, tracerProvider: false });
  cleanups.push(() => otel.stop());
  const server: Server = createServer((req, res) => exporter.getMetricsRequestHandler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  const { port } = server.address() as AddressInfo;

  const pool = new WorkerPool({ concurrency: 1, maxQueue: 1, name: 'prom-pool' });
  let release!: () => void;
  const first = pool.run(() => new Promise<void>((r) => (release = r)));
  const queued = pool.run(async () => {});
  await pool.run(async () => {}).catch(() => {}); // the line is full: a QueueFullError
  const queue = new BoundedQueue<number>({ capacity: 1, name: 'prom-queue' });
  await queue.put(1);
  release();
  await Promise.all([first, queued]);

  const { status, type, body } = await scrape(port);
  expect(status).toBe(200);
  expect(type).toMatch(/^text\/plain/);
  const samples = parse(body);
  const find = (name: string, labels: Record<string, string>) =>
    samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  const pool_ = { unwedge_kind: 'pool', unwedge_name: 'prom-pool' };
  const buckets = find('unwedge_pool_wait_duration_bucket', {
    ...pool_,
    unwedge_operation: 'run',
  });
  expect(buckets.map((b) => b.labels.le)).toEqual([
    '0.1',
    '0.25',
    '0.5',
    '1',
    '2.5',
    '5',
    '10',
    '25',
    '50',
    '100',
    '250',
    '500',
    '1000',
    '2500',
    '5000',
    '10000',
    '30000',
    '60000',
    '+Inf',
  ]);
  expect(buckets.at(-1)!.value).toBe(1);
  expect(find('unwedge_pool_wait_duration_count', pool_).map((s) => s.value)).toEqual([1]);
  expect(find('unwedge_pool_task_duration_count', pool_).map((s) => s.value)).toEqual([2]);
  expect(
    find('unwedge_rejections_total', { ...pool_, error_type: 'QueueFullError' }).map((s) => s.value),
  ).toEqual([1]);
  const queue_ = { unwedge_kind: 'queue', unwedge_name: 'prom-queue' };
  expect(find('unwedge_queue_size', queue_).map((s) => s.value)).toEqual([1]);
  expect(find('unwedge_queue_capacity', queue_).map((s) => s.value)).toEqual([1]);
  expect(body).toMatch(/^# HELP unwedge_queue_size Items queued now \(BoundedQueue\)\.$/m);
  expect(body).toMatch(/^# TYPE unwedge_pool_wait_duration histogram$/m);
  expect(body).toMatch(/^# UNIT unwedge_pool_wait_duration ms$/m);
  expect(body).not.toMatch(/milliseconds/);
});

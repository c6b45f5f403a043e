// Seed 000: an SSE route fans each request's work out to a worker pool whose tasks hang on an
// upstream that never answers. The naive route, when the client goes away, awaits the pool's
// drain instead of cancelling: the hung tasks keep their slots, every disconnected stream leaks
// more of them, and once the pool is full /health (which probes the pool) stops answering.
// The unwedge route aborts that request's tasks through their signals on disconnect, so their
// slots come back at once and /health never waits.
//
//   npx tsx examples/stream-route.ts
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request as httpRequest } from 'node:http';
import { pathToFileURL } from 'node:url';
import { WorkerPool } from '../src/pool/index.js';
import { get, type Latency, listen, probe } from './lib/http.js';

const CONCURRENCY = 16;
const SOURCES = 4; // feeds fetched per stream; feed 0 answers, the others hang
const WAVES = 3;
const STREAMS_PER_WAVE = 3;

/** GETs a feed from the upstream; stops (destroying the socket) when `signal` aborts. */
function fetchFeed(port: number, feed: number, signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path: `/feed/${feed}`, agent: false, signal },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve(body));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

type Mode = 'naive' | 'unwedge';

/** Stream tasks whose body runs now, and those still waiting for a slot. */
export interface Tasks {
  running: number;
  waiting: number;
}

/** The /stream handler: one SSE event per feed, fetched through the long-lived pool. */
function streamRoute(mode: Mode, pool: WorkerPool, upstreamPort: number, tasks: Tasks) {
  return (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write(': connected\n\n');
    const disconnected = new AbortController();
    const fetchCounted = (feed: number) => {
      let started = false;
      tasks.waiting++;
      const task = (signal: AbortSignal) => {
        started = true;
        tasks.waiting--;
        tasks.running++;
        return fetchFeed(upstreamPort, feed, signal).finally(() => tasks.running--);
      };
      return pool.run(task, mode === 'unwedge' ? { signal: disconnected.signal } : {}).finally(() => {
        if (!started) tasks.waiting--;
      });
    };
    const work = Array.from({ length: SOURCES }, (_, feed) =>
      fetchCounted(feed)
        .then((body) => {
          if (!res.destroyed) res.write(`data: ${JSON.stringify({ feed, body })}\n\n`);
        })
        .catch(() => {}),
    );
    res.on('close', async () => {
      if (mode === 'unwedge') {
        // The cure: cancel this request's work through its signals; never wait on it.
        disconnected.abort(new Error('client disconnected'));
      } else {
        // The naive route waits for the pool to drain before cleaning up (the seed's
        // `with ThreadPoolExecutor(...)`, whose exit is shutdown(wait=True)). The drain never comes.
        await pool.idle();
        await Promise.all(work);
      }
    });
  };
}

/** Opens a stream, waits for its first bytes, and returns a function that hangs up. */
function openStream(port: number): Promise<() => void> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/stream', agent: false }, (res) => {
      res.once('data', () => resolve(() => req.destroy()));
      res.on('error', () => {});
    });
    req.on('error', (error) => reject(error));
    req.end();
  });
}

export interface VariantResult {
  /** /health latency while streams open and hang up, in ms (a missed answer counts as 1,000). */
  health: Latency;
  /** Stream tasks in the pool (running or waiting for a slot), sampled every 5 ms: [ms, tasks]. */
  inPool: Array<[number, number]>;
  /** Tasks of hung-up streams still holding a pool slot at the end. */
  tasksLeft: number;
  /** Tasks of hung-up streams still waiting for a slot at the end. */
  tasksQueued: number;
  streams: number;
}

export interface StreamServer {
  port: number;
  /** The long-lived pool every stream's feeds are fetched through (16 slots). */
  pool: WorkerPool;
  /** Stream tasks whose body runs now, and those still waiting for a slot. */
  tasks: Readonly<Tasks>;
  /** Shuts the pool down (aborting whatever still hangs), then closes the app and the upstream. */
  close(): Promise<void>;
}

/**
 * Starts the app of the seed story on 127.0.0.1 and a free port: `/stream` fetches 4 feeds from an
 * upstream whose feeds 1-3 never answer, through a long-lived pool; `/health` proves the pool
 * still takes work. `mode` decides what the route does when a client hangs up.
 */
export async function startStreamServer(mode: Mode = 'unwedge'): Promise<StreamServer> {
  const upstream = await listen((req, res) => {
    if (req.url === '/feed/0') res.end('fresh news');
    // any other feed: accept the request and never answer
  });
  const pool = new WorkerPool({
    concurrency: CONCURRENCY,
    name: 'feeds',
    maxQueue: Number.POSITIVE_INFINITY,
  });
  const tasks: Tasks = { running: 0, waiting: 0 };
  const route = streamRoute(mode, pool, upstream.port, tasks);
  const app = await listen((req, res) => {
    if (req.url === '/health') {
      // The health check proves the pool still takes work.
      pool
        .run(() => 'ok')
        .then(
          (body) => res.end(body),
          () => res.writeHead(503).end(),
        );
      return;
    }
    route(req, res);
  });
  return {
    port: app.port,
    pool,
    tasks,
    async close() {
      await pool.shutdown(); // aborts whatever still hangs, so the upstream sockets close
      await app.close();
      await upstream.close();
    },
  };
}

export async function runVariant(mode: Mode): Promise<VariantResult> {
  const server = await startStreamServer(mode);
  const { pool, tasks } = server;
  // Warm up the routes (first requests compile the HTTP paths), then probe throughout.
  for (let i = 0; i < 5; i++) await get(server.port, '/health');
  (await openStream(server.port))();
  await new Promise((resolve) => setTimeout(resolve, 50));
  const health = probe(server.port, '/health', 10);
  const started = performance.now();
  const inPool: Array<[number, number]> = [];
  const sample = () => inPool.push([Math.round(performance.now() - started), tasks.running + tasks.waiting]);
  sample();
  const sampler = setInterval(sample, 5);
  let streams = 0;
  try {
    for (let wave = 0; wave < WAVES; wave++) {
      const hangUps = await Promise.all(
        Array.from({ length: STREAMS_PER_WAVE }, () => openStream(server.port)),
      );
      streams += hangUps.length;
      await new Promise((resolve) => setTimeout(resolve, 80));
      for (const hangUp of hangUps) hangUp();
      await new Promise((resolve) => setTimeout(resolve, 80));
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Give aborted tasks a moment to settle, without waiting on hung ones.
    await pool.idle({ timeout: 200 }).catch(() => {});
    const tasksLeft = tasks.running;
    const tasksQueued = tasks.waiting;
    sample();
    clearInterval(sampler);
    return { health: await health.stop(), inPool, tasksLeft, tasksQueued, streams };
  } finally {
    clearInterval(sampler);
    await health.stop();
    await server.close();
  }
}

export interface StreamRouteStory {
  naive: VariantResult;
  unwedge: VariantResult;
  /** /health always answered within 50 ms and no task of a hung-up stream was left running. */
  cured: boolean;
}

/** Runs both routes on loopback and returns the figures for the demo table. */
export async function streamRouteStory(): Promise<StreamRouteStory> {
  const naive = await runVariant('naive');
  const unwedge = await runVariant('unwedge');
  const cured = unwedge.health.max < 50 && unwedge.tasksLeft === 0 && unwedge.tasksQueued === 0;
  return { naive, unwedge, cured };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const story = await streamRouteStory();
  const row = (name: string, r: VariantResult) =>
    `| ${name} | ${r.streams} | ${r.health.p50} | ${r.health.p99} | ${r.health.max} | ${r.tasksLeft} running, ${r.tasksQueued} queued |`;
  console.log('seed 000: SSE streams hang up while their pool tasks hang on a silent upstream\n');
  console.log(
    '| route | streams hung up | /health p50 ms | p99 ms | max ms | tasks of hung-up streams left |',
  );
  console.log('|---|---:|---:|---:|---:|---|');
  console.log(row('naive: await the drain on disconnect', story.naive));
  console.log(row('unwedge: abort the request\u2019s tasks', story.unwedge));
  console.log(`\ncured: ${story.cured}`);
  if (!story.cured) process.exitCode = 1;
}

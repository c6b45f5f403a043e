// The load test: each seed story's server (the unwedge version), driven at a fixed request rate
// on loopback while the faults of its story happen, with a health route probed throughout.
// Reports requests served, replies by kind, and the health route's latency; a health answer
// slower than 100 ms counts as a stall. `npm run load` writes docs/reliability.md.
//
//   npm run load [-- --seconds 20]
import { request as httpRequest } from 'node:http';
import { startApp } from '../../examples/app-lifespan.js';
import { startReportServer } from '../../examples/connect-timeout.js';
import { get, type Latency, probe } from '../../examples/lib/http.js';
import { type ShardFault, startStorageFanOutServer } from '../../examples/storage-fan-out.js';
import { startStreamServer } from '../../examples/stream-route.js';
import { startStuckQueueServer } from '../../examples/stuck-queue-server.js';
import { machineLine, writeSection } from '../support/sections.js';

export interface ScenarioResult {
  scenario: string;
  faults: string;
  seconds: number;
  rps: number;
  sent: number;
  replies: Record<string, number>;
  health: Latency;
  /** Health answers slower than 100 ms (or missing). */
  stalls: number;
  after: string;
}

/** Request `i` of a load, to `path`: resolves with the kind of reply it got ('200', 'no answer', ...). */
type Send = (port: number, path: string, i: number, limitMs: number) => Promise<string>;

/** A GET that waits for the whole answer: its status, or 'no answer' within `limitMs`. */
const getStatus: Send = (port, path, _i, limitMs) =>
  get(port, path, limitMs).then((reply) => (reply.status === undefined ? 'no answer' : String(reply.status)));

/**
 * A GET whose client hangs up after `afterMs` (seed 004's client aborts): the status if the answer
 * came first, else 'client hung up'.
 */
const hangUpAfter =
  (afterMs: number): Send =>
  (port, path) =>
    get(port, path, afterMs).then((reply) =>
      reply.status === undefined ? 'client hung up' : String(reply.status),
    );

/**
 * Opens an event stream and hangs up mid-stream (seed 000's client aborts): at its first bytes,
 * at its first event, or `lingerMs` in. Resolves with the status once that point is reached, or
 * 'no answer' if it is not within `limitMs`.
 */
const hangUpMidStream =
  (when: 'opened' | 'event' | 'lingered', lingerMs = 50): Send =>
  (port, path, _i, limitMs) =>
    new Promise((resolve) => {
      let settled = false;
      const done = (kind: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        resolve(kind);
      };
      let timer = setTimeout(() => done('no answer'), limitMs);
      const req = httpRequest({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        const status = String(res.statusCode);
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (when === 'opened' || (when === 'event' && chunk.includes('data:'))) done(status);
        });
        res.on('error', () => {});
        if (when === 'lingered') {
          clearTimeout(timer);
          timer = setTimeout(() => done(status), lingerMs);
        }
      });
      req.on('error', () => done('no answer'));
      req.end();
    });

/** Sends requests at a fixed rate for `seconds`, then waits for the answers (each bounded by `limitMs`). */
async function drive(
  port: number,
  path: (i: number) => string,
  rps: number,
  seconds: number,
  limitMs = 2_000,
  send: Send = getStatus,
) {
  const replies: Record<string, number> = {};
  const pending: Promise<void>[] = [];
  let sent = 0;
  const total = Math.round(rps * seconds);
  await new Promise<void>((resolve) => {
    const started = performance.now();
    const timer = setInterval(() => {
      // Catch up on ticks a busy loop delayed, so the rate holds.
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rps) + 1);
      while (sent < due) {
        const i = sent++;
        pending.push(
          send(port, path(i), i, limitMs).then((kind) => {
            replies[kind] = (replies[kind] ?? 0) + 1;
          }),
        );
      }
      if (sent >= total) {
        clearInterval(timer);
        resolve();
      }
    }, 1000 / rps);
  });
  await Promise.all(pending);
  return { sent, replies };
}

async function withHealth<T>(port: number, path: string, run: () => Promise<T>) {
  const health = probe(port, path, 20);
  const value = await run();
  const latency = await health.stop();
  return { value, health: latency };
}

const stallsOf = (latency: Latency) => latency.stalls;

export async function loadTest(
  options: { seconds?: number; rps?: number; log?: (line: string) => void } = {},
) {
  const seconds = options.seconds ?? 20;
  const rps = options.rps ?? 100;
  const log = options.log ?? (() => {});
  const results: ScenarioResult[] = [];

  {
    log('▶ seed 000: SSE streams whose feeds hang upstream, each client hanging up mid-stream');
    const server = await startStreamServer();
    // A third of the clients hang up as the stream opens, a third after its first event, a third
    // 50 ms in; feeds 1-3 of every stream hang upstream, holding pool slots until the hang-up.
    const hangUps = [hangUpMidStream('opened'), hangUpMidStream('event'), hangUpMidStream('lingered', 50)];
    const { value, health } = await withHealth(server.port, '/health', () =>
      drive(
        server.port,
        () => '/stream',
        rps,
        seconds,
        2_000,
        (port, path, i, limitMs) => hangUps[i % hangUps.length]!(port, path, i, limitMs),
      ),
    );
    // Give the aborted tasks a moment to settle, without waiting on hung ones.
    await server.pool.idle({ timeout: 200 }).catch(() => {});
    results.push({
      scenario: 'seed 000: WorkerPool behind an SSE route',
      faults: 'feeds 1-3 of every stream hang upstream; every client hangs up mid-stream',
      seconds,
      rps,
      ...value,
      health,
      stalls: stallsOf(health),
      after: `${server.tasks.running} tasks of hung-up streams running, ${server.tasks.waiting} queued; ${server.pool.active} of ${server.pool.concurrency} pool slots in use`,
    });
    await server.close();
  }

  {
    log('▶ seed 001: queue with a supervised consumer');
    const server = await startStuckQueueServer({ putTimeout: 300, consumer: 'consume' });
    // Every 10th job crashes the transcriber; consume() reports it and keeps going.
    const { value, health } = await withHealth(server.port, '/healthz', () =>
      drive(server.port, (i) => (i % 10 === 9 ? '/transcribe?block=1' : '/transcribe'), rps, seconds),
    );
    results.push({
      scenario: 'seed 001: BoundedQueue + consume()',
      faults: 'every 10th job crashes its handler',
      seconds,
      rps,
      ...value,
      health,
      stalls: stallsOf(health),
      after: `${server.reported.length} handler failures reported; consumer alive: ${server.consumerAlive()}`,
    });
    await server.close();
  }

  {
    log('▶ seed 003: every request waits on a database that never answers');
    const server = await startReportServer(true);
    const { value, health } = await withHealth(server.port, '/health', () =>
      drive(server.port, () => '/report', rps, seconds),
    );
    await new Promise((resolve) => setTimeout(resolve, 100)); // the last aborted connects' FINs
    results.push({
      scenario: 'seed 003: withTimeout around a connect',
      faults: 'the database accepts and never answers',
      seconds,
      rps,
      ...value,
      health,
      stalls: stallsOf(health),
      after: `${server.dbConnections()} database connections left open`,
    });
    await server.close();
  }

  {
    log('▶ seeds 002/003: background updaters failing, then SIGTERM');
    let failures = 0;
    const app = await startApp({ onError: () => failures++ });
    const { value, health } = await withHealth(app.port, '/', () =>
      drive(app.port, (i) => (i % 5 === 4 ? '/tasks' : '/'), rps, seconds),
    );
    const { report, ms } = await app.stop();
    await app.dispose();
    results.push({
      scenario: 'seeds 002/003: TaskRegistry',
      faults: 'one updater throws every few hundred ms, one hangs on a database',
      seconds,
      rps,
      ...value,
      health,
      stalls: stallsOf(health),
      after: `${failures} background failures reported; shutdown in ${ms} ms, stragglers: ${report.stragglers.join(', ') || 'none'}`,
    });
  }

  {
    log('▶ seed 004: fan-out over a global semaphore while a storage shard turns slow, then hangs');
    const server = await startStorageFanOutServer();
    // Every 250 ms the last storage shard moves on: healthy, slow, healthy, hung (no answer).
    const cycle: ShardFault[] = ['none', 'slow', 'none', 'hung'];
    let step = 0;
    const shard = setInterval(() => server.setFault(cycle[++step % cycle.length]!), 250);
    const clientAbort = hangUpAfter(10);
    const { value, health } = await withHealth(server.port, '/health', () =>
      drive(
        server.port,
        () => '/merge',
        rps,
        seconds,
        2_000,
        (port, path, i, limitMs) =>
          // Every 10th client hangs up 10 ms in, while its downloads are in flight.
          i % 10 === 9 ? clientAbort(port, path, i, limitMs) : getStatus(port, path, i, limitMs),
      ),
    );
    clearInterval(shard);
    await new Promise((resolve) => setTimeout(resolve, 100)); // the last aborted downloads' FINs
    const permits = server.storageChunks;
    results.push({
      scenario: 'seed 004: fanOut + a global Semaphore',
      faults:
        'a storage shard cycles healthy, slow (80 ms), healthy, hung (250 ms each); every 10th client hangs up after 10 ms',
      seconds,
      rps,
      ...value,
      health,
      stalls: stallsOf(health),
      after: `peak ${server.peak()} downloads in flight (limit 32; ${server.storagePeak()} seen at storage, which counts an aborted one until its close arrives); ${server.hungUp()} requests dropped by their client; ${32 - permits.available} permits held, ${permits.waiting} waiting, ${server.storageInFlight()} downloads in flight`,
    });
    await server.close();
  }

  return results;
}

export function reliabilityPage(results: ScenarioResult[], machine: string): string {
  return [
    '## The seed stories under load',
    '',
    "Generated by `npm run load` (`test/load/load.ts`); do not edit by hand. Each seed story's server",
    '(the unwedge version) is driven on loopback at a fixed rate while the faults of its story happen;',
    'a health route is probed every 20 ms throughout, and an answer slower than 100 ms counts as a stall.',
    '',
    `Machine: ${machine}.`,
    '',
    '| scenario | faults | requests | replies | health p50 / p99 / max | stalls > 100 ms | after |',
    '|---|---|---:|---|---|---:|---|',
    ...results.map(
      (r) =>
        `| ${r.scenario} | ${r.faults} | ${r.sent} in ${r.seconds} s | ${Object.entries(r.replies)
          .map(([k, n]) => `${k}: ${n}`)
          .join(', ')} | ${r.health.p50} / ${r.health.p99} / ${r.health.max} ms | ${r.stalls} | ${r.after} |`,
    ),
    '',
  ].join('\n');
}

if (import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const i = process.argv.indexOf('--seconds');
  const seconds = i === -1 ? 20 : Number(process.argv[i + 1]);
  const results = await loadTest({ seconds, log: (line) => process.stderr.write(`${line}\n`) });
  const section = reliabilityPage(results, machineLine());
  writeSection(new URL('../../docs/reliability.md', import.meta.url), 'Reliability', 'load', section);
  console.log(section);
  process.exitCode = results.every((r) => r.stalls === 0) ? 0 : 1;
}

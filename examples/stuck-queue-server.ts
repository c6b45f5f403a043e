// Seed 001: a request handler enqueues work for a background consumer through a bounded queue.
// The consumer dies, the queue fills, and the next put() waits forever: the request hangs (in the
// Python original, the whole event loop froze). With `put(job, { timeout })` the request answers
// 503 within the timeout, and the error says which queue is full and how long ago an item was last
// taken; /healthz answers throughout. With `consume()` the consumer does not die in the first place.
//
//   npx tsx examples/stuck-queue-server.ts
import { pathToFileURL } from 'node:url';
import { ClosedError, QueueFullError } from '../src/errors.js';
import { BoundedQueue } from '../src/queue/queue.js';
import { get, type Latency, listen, probe } from './lib/http.js';

/** How long a request waits for room in the queue before answering 503. */
export const PUT_TIMEOUT_MS = 300;
/** How long the demo's client waits for an answer before giving up on a hung request. */
const CLIENT_LIMIT_MS = 1_500;
/** Requests sent once the consumer is dead, one every AFTER_CRASH_EVERY_MS. */
const AFTER_CRASH = 5;
const AFTER_CRASH_EVERY_MS = 60;

interface Job {
  id: string;
  /** Makes the hand-written consumer die, as the seed's worker thread did. */
  crash: boolean;
}

export interface StuckQueueServerOptions {
  /** `put(job, { timeout })` with this many ms; `undefined` is the naive `put(job)`. */
  putTimeout?: number;
  /** `'loop'`: a hand-written `for await` worker that dies on a crash job; `'consume'`: `queue.consume()`. */
  consumer?: 'loop' | 'consume';
}

export interface StuckQueueServer {
  port: number;
  queue: BoundedQueue<Job>;
  /** Whether the background consumer is still taking jobs. */
  consumerAlive(): boolean;
  /** Failures the consumer reported (the `consume` variant). */
  reported: unknown[];
  /** Shuts the queue down (a hung put rejects), closes every connection and the server. */
  close(): Promise<void>;
}

/** Starts the server of the seed story on 127.0.0.1 and a free port. */
export async function startStuckQueueServer(
  options: StuckQueueServerOptions = {},
): Promise<StuckQueueServer> {
  const queue = new BoundedQueue<Job>({ capacity: 1, name: 'transcribe-jobs' });
  const reported: unknown[] = [];
  const transcribe = async (job: Job) => {
    if (job.crash) throw new Error(`transcriber crashed on ${job.id}`);
    await Promise.resolve(); // the real work would go here
  };

  let alive = true;
  let stopConsumer: () => Promise<void>;
  if (options.consumer === 'consume') {
    const consumer = queue.consume(transcribe, { timeout: 5_000, onError: (error) => reported.push(error) });
    stopConsumer = () => consumer.stop();
  } else {
    // The naive worker: the first exception ends the loop, and nobody takes items any more.
    const worker = (async () => {
      for await (const job of queue) {
        await transcribe(job);
        queue.taskDone();
      }
    })().catch((error: unknown) => {
      alive = false;
      reported.push(error);
    });
    stopConsumer = () => worker;
  }

  let next = 0;
  const app = await listen(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/healthz') {
      res.end('{"status":"ok"}');
      return;
    }
    if (url.pathname !== '/transcribe') {
      res.statusCode = 404;
      res.end();
      return;
    }
    const id = `task-${next++}`;
    try {
      if (url.searchParams.get('block') === '1') {
        // As in the seed: make the worker die, then fill the queue behind it.
        await queue.put({ id: `${id}-crash`, crash: true }, { timeout: PUT_TIMEOUT_MS });
        await queue.put({ id: `${id}-warmup`, crash: false }, { timeout: PUT_TIMEOUT_MS });
        res.statusCode = 202;
        res.end(JSON.stringify({ status: 'enqueued', task_id: `${id}-warmup` }));
        return;
      }
      const job = { id, crash: false };
      // The hazard is the first form: with the consumer dead, it waits as long as it takes.
      if (options.putTimeout === undefined) await queue.put(job);
      else await queue.put(job, { timeout: options.putTimeout });
      res.statusCode = 202;
      res.end(JSON.stringify({ status: 'enqueued', task_id: id }));
    } catch (error) {
      if (!(error instanceof QueueFullError || error instanceof ClosedError)) throw error;
      res.statusCode = 503;
      res.setHeader('retry-after', '5');
      res.end(JSON.stringify({ error: error.message }));
    }
  });

  return {
    port: app.port,
    queue,
    reported,
    consumerAlive: () => alive,
    close: async () => {
      queue.shutdown({ immediate: true });
      await stopConsumer();
      await app.close();
    },
  };
}

export interface StuckQueueFigures {
  variant: string;
  /** Status of each /transcribe call in order, `undefined` when the client gave up waiting. */
  statuses: Array<number | undefined>;
  /** The first request made after the crash job (the consumer died, unless it is `consume()`'s). */
  stuck: { status: number | undefined; ms: number; body: string };
  /** Every request made after the crash job: sent `sent` ms into that phase, answered after `ms`. */
  afterCrash: Array<{ sent: number; status: number | undefined; ms: number }>;
  /** /healthz, probed every 20 ms while that request waited. */
  healthz: Latency;
  /** Whether the consumer was still taking jobs at the end. */
  consumerAlive: boolean;
  /** Failures the consumer reported, or that killed it. */
  reported: number;
}

async function runVariant(variant: string, options: StuckQueueServerOptions): Promise<StuckQueueFigures> {
  const server = await startStuckQueueServer(options);
  try {
    const first = await get(server.port, '/transcribe', CLIENT_LIMIT_MS);
    const block = await get(server.port, '/transcribe?block=1', CLIENT_LIMIT_MS);
    await new Promise((resolve) => setTimeout(resolve, 200)); // the dead consumer's silence grows
    const health = probe(server.port, '/healthz', 20);
    const started = performance.now();
    const replies = await Promise.all(
      Array.from({ length: AFTER_CRASH }, async (_, i) => {
        await new Promise((resolve) => setTimeout(resolve, i * AFTER_CRASH_EVERY_MS));
        const sent = Math.round(performance.now() - started);
        return { sent, ...(await get(server.port, '/transcribe', CLIENT_LIMIT_MS)) };
      }),
    );
    const healthz = await health.stop();
    const stuck = replies[0]!;
    return {
      variant,
      statuses: [first.status, block.status, stuck.status],
      stuck: { status: stuck.status, ms: Math.round(stuck.ms), body: stuck.body },
      afterCrash: replies.map((r) => ({ sent: r.sent, status: r.status, ms: Math.round(r.ms) })),
      healthz,
      consumerAlive: server.consumerAlive(),
      reported: server.reported.length,
    };
  } finally {
    await server.close();
  }
}

/** Runs the story three ways and returns what a client saw each time. */
export async function stuckQueueStory(): Promise<{
  naive: StuckQueueFigures;
  timeout: StuckQueueFigures;
  supervised: StuckQueueFigures;
  cured: boolean;
}> {
  const naive = await runVariant('put(job)', {});
  const timeout = await runVariant(`put(job, { timeout: ${PUT_TIMEOUT_MS} })`, {
    putTimeout: PUT_TIMEOUT_MS,
  });
  const supervised = await runVariant(`consume() + put(job, { timeout: ${PUT_TIMEOUT_MS} })`, {
    putTimeout: PUT_TIMEOUT_MS,
    consumer: 'consume',
  });
  const cured =
    naive.stuck.status === undefined &&
    timeout.stuck.status === 503 &&
    timeout.stuck.ms < PUT_TIMEOUT_MS + 500 &&
    timeout.stuck.body.includes('transcribe-jobs') &&
    timeout.healthz.max < 200 &&
    supervised.stuck.status === 202 &&
    supervised.consumerAlive;
  return { naive, timeout, supervised, cured };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const result = await stuckQueueStory();
  for (const r of [result.naive, result.timeout, result.supervised]) {
    const answer = r.stuck.status === undefined ? `no answer (client gave up)` : `${r.stuck.status}`;
    console.log(`${r.variant}`);
    console.log(
      `  /transcribe, /transcribe?block=1, /transcribe -> ${r.statuses.map((s) => s ?? '-').join(', ')}`,
    );
    console.log(`  the request after the crash: ${answer} after ${r.stuck.ms} ms ${r.stuck.body}`);
    console.log(
      `  /healthz meanwhile: ${r.healthz.count} answers, p50 ${r.healthz.p50} ms, max ${r.healthz.max} ms; consumer alive: ${r.consumerAlive} (${r.reported} failure reported)`,
    );
  }
  process.exitCode = result.cured ? 0 : 1;
}

// Seed 004: every request fans out one download per audio chunk into a shared storage backend.
// With an unbounded Promise.all, 10 concurrent requests × 50 chunks put 500 downloads in flight
// at once. With a per-call window of 8 and one process-global semaphore of 32, the backend never
// sees more than 32, whatever the number of requests.
// `startStorageFanOutServer` serves the unwedge version over HTTP (the load test drives it while a
// storage shard turns slow or hangs and clients hang up).
//
//   npx tsx examples/storage-fan-out.ts
import { Agent } from 'node:http';
import { pathToFileURL } from 'node:url';
import { fanOut, Semaphore, TimeoutError, withTimeout } from '../src/index.js';
import { fetchChunk, get, listen } from './lib/http.js';

const REQUESTS = 10;
const CHUNKS = 50;
const CHUNK_MS = 15;
/** Chunk `c` lives on storage shard `c % SHARDS`; the last shard is the one that fails. */
const SHARDS = 4;
const SLOW_CHUNK_MS = 80;

/** What the failing storage shard does: answer in CHUNK_MS, answer in SLOW_CHUNK_MS, or never answer. */
export type ShardFault = 'none' | 'slow' | 'hung';

/**
 * A storage server that takes CHUNK_MS per chunk and records how many downloads it serves at once:
 * the peak, and with `record` every change as [performance.now(), downloads in flight].
 */
async function storageServer(fault: () => ShardFault = () => 'none', record = false) {
  let inFlight = 0;
  let peak = 0;
  const changes: Array<[number, number]> = [];
  const server = await listen((req, res) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    if (record) changes.push([performance.now(), inFlight]);
    let counted = true;
    const leave = () => {
      if (counted) {
        inFlight--;
        if (record) changes.push([performance.now(), inFlight]);
      }
      counted = false;
    };
    const chunk = Number(req.url?.slice('/chunk/'.length));
    const state = chunk % SHARDS === SHARDS - 1 ? fault() : 'none';
    if (state === 'hung') {
      res.on('close', leave); // accepted, never answered: the client's abort ends it
      return;
    }
    const timer = setTimeout(
      () => {
        leave();
        res.end('chunk');
      },
      state === 'slow' ? SLOW_CHUNK_MS : CHUNK_MS,
    );
    res.on('close', () => {
      clearTimeout(timer); // the client hung up first
      leave();
    });
  });
  return { ...server, peak: () => peak, inFlight: () => inFlight, changes: () => changes };
}

async function download(port: number, chunk: number): Promise<string> {
  const reply = await get(port, `/chunk/${chunk}`, 30_000);
  if (reply.status !== 200) throw new Error(`chunk ${chunk}: ${reply.status ?? 'no answer'}`);
  return reply.body;
}

export interface FanOutResult {
  peak: number;
  ms: number;
  /** Downloads in flight at the storage server as they changed: [ms since the requests began, downloads]. */
  inFlight: Array<[number, number]>;
}

export interface FanOutStoryResult {
  naive: FanOutResult;
  unwedge: FanOutResult;
  limit: number;
  cured: boolean;
}

async function measure(handleRequest: (port: number) => Promise<string[]>): Promise<FanOutResult> {
  const storage = await storageServer(undefined, true);
  const started = performance.now();
  const merged = await Promise.all(Array.from({ length: REQUESTS }, () => handleRequest(storage.port)));
  const ms = Math.round(performance.now() - started);
  await storage.close();
  if (merged.some((chunks) => chunks.length !== CHUNKS)) throw new Error('a request lost chunks');
  const inFlight: Array<[number, number]> = [
    [0, 0],
    ...storage.changes().map(([at, n]): [number, number] => [Math.round((at - started) * 10) / 10, n]),
  ];
  return { peak: storage.peak(), ms, inFlight };
}

export async function storageFanOutStory(): Promise<FanOutStoryResult> {
  const chunks = Array.from({ length: CHUNKS }, (_, i) => i);
  // The naive handler: every chunk at once.
  const naive = await measure((port) => Promise.all(chunks.map((c) => download(port, c))));
  // The fix: a process-wide cap on storage downloads, and a window per request.
  const STORAGE_CHUNKS = new Semaphore(32, { name: 'storage-chunks' });
  const unwedge = await measure((port) =>
    fanOut(chunks, (c) => download(port, c), { window: 8, semaphores: [STORAGE_CHUNKS] }),
  );
  return { naive, unwedge, limit: 32, cured: naive.peak > 32 && unwedge.peak <= 32 };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await storageFanOutStory();
  console.log(`naive Promise.all: peak ${r.naive.peak} downloads in flight at storage, ${r.naive.ms} ms`);
  console.log(`fanOut window 8 + Semaphore(32): peak ${r.unwedge.peak}, ${r.unwedge.ms} ms`);
  process.exitCode = r.cured ? 0 : 1;
}

export interface StorageFanOutServerOptions {
  /** Chunks per `/merge` request (default 12: a smaller recording than the story's 50). */
  chunks?: number;
  /** Deadline of a `/merge` request in ms, after which it answers 504 (default 250). */
  timeout?: number;
}

export interface StorageFanOutServer {
  port: number;
  /** The process-global limit on storage downloads (32 permits), shared by every request. */
  storageChunks: Semaphore;
  /** Makes the last storage shard answer normally, slowly, or never, from now on. */
  setFault(fault: ShardFault): void;
  /** The most downloads the app had in flight at once (each holds a permit of `storageChunks`). */
  peak(): number;
  /**
   * The most downloads the storage server saw in flight at once. It can pass `peak()` by one or
   * two: a download the app aborted is counted there until its socket's close arrives, while
   * its permit already went to the next download.
   */
  storagePeak(): number;
  /** Downloads in flight at the storage server now. */
  storageInFlight(): number;
  /** Requests whose client hung up before the answer (their downloads were aborted). */
  hungUp(): number;
  /** Closes the app (aborting what is in flight), the storage client's sockets and the storage server. */
  close(): Promise<void>;
}

/**
 * Starts the unwedge version of the story on 127.0.0.1 and a free port: `/merge` downloads every
 * chunk with `fanOut` (window 8, each download holding a permit of one process-global
 * `Semaphore(32)`), bounded by a deadline (504) and aborted when the client hangs up; `/health`
 * answers at once.
 */
export async function startStorageFanOutServer(
  options: StorageFanOutServerOptions = {},
): Promise<StorageFanOutServer> {
  const chunks = Array.from({ length: options.chunks ?? 12 }, (_, i) => i);
  const deadline = options.timeout ?? 250;
  let fault: ShardFault = 'none';
  const storage = await storageServer(() => fault);
  const agent = new Agent({ keepAlive: true });
  const STORAGE_CHUNKS = new Semaphore(32, { name: 'storage-chunks' }); // one per process
  let hungUp = 0;
  let inFlight = 0;
  let peak = 0;
  const download = (chunk: number, signal: AbortSignal) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    return fetchChunk(storage.port, chunk, agent, signal).finally(() => inFlight--);
  };
  const app = await listen(async (req, res) => {
    if (req.url === '/health') {
      res.end('ok');
      return;
    }
    const disconnected = new AbortController();
    res.on('close', () => {
      if (res.writableEnded) return;
      hungUp++;
      disconnected.abort(new Error('client disconnected'));
    });
    try {
      const parts = await withTimeout(
        (signal) =>
          fanOut(chunks, (c, { signal }) => download(c, signal), {
            window: 8,
            semaphores: [STORAGE_CHUNKS],
            signal,
          }),
        deadline,
        { signal: disconnected.signal, name: 'merge' },
      );
      res.end(`merged ${parts.length} chunks`);
    } catch (error) {
      if (disconnected.signal.aborted) return; // the client is gone: nobody to answer
      res.statusCode = error instanceof TimeoutError ? 504 : 502;
      res.end(String(error));
    }
  });
  return {
    port: app.port,
    storageChunks: STORAGE_CHUNKS,
    setFault: (next) => {
      fault = next;
    },
    peak: () => peak,
    storagePeak: storage.peak,
    storageInFlight: storage.inFlight,
    hungUp: () => hungUp,
    async close() {
      await app.close();
      agent.destroy();
      await storage.close();
    },
  };
}

// Seed 004: every request fans out one download per audio chunk into a shared storage backend.
// With an unbounded Promise.all, 10 concurrent requests × 50 chunks put 500 downloads in flight
// at once. With a per-call window of 8 and one process-global semaphore of 32, the backend never
// sees more than 32, whatever the number of requests.
//
//   npx tsx examples/storage-fan-out.ts
import { pathToFileURL } from 'node:url';
import { fanOut, Semaphore } from '../src/index.js';
import { get, listen } from './lib/http.js';

const REQUESTS = 10;
const CHUNKS = 50;
const CHUNK_MS = 15;

/** A storage server that takes CHUNK_MS per chunk and records how many downloads it serves at once. */
async function storageServer() {
  let inFlight = 0;
  let peak = 0;
  const server = await listen((_req, res) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    setTimeout(() => {
      inFlight--;
      res.end('chunk');
    }, CHUNK_MS);
  });
  return { ...server, peak: () => peak };
}

async function download(port: number, chunk: number): Promise<string> {
  const reply = await get(port, `/chunk/${chunk}`, 30_000);
  if (reply.status !== 200) throw new Error(`chunk ${chunk}: ${reply.status ?? 'no answer'}`);
  return reply.body;
}

export interface FanOutStoryResult {
  naive: { peak: number; ms: number };
  unwedge: { peak: number; ms: number };
  limit: number;
  cured: boolean;
}

async function measure(handleRequest: (port: number) => Promise<string[]>) {
  const storage = await storageServer();
  const started = performance.now();
  const merged = await Promise.all(Array.from({ length: REQUESTS }, () => handleRequest(storage.port)));
  const ms = Math.round(performance.now() - started);
  await storage.close();
  if (merged.some((chunks) => chunks.length !== CHUNKS)) throw new Error('a request lost chunks');
  return { peak: storage.peak(), ms };
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

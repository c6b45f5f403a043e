// A lease cannot stop a paused holder's write; only the store can, by the permit's fence
// (docs/hazards/lease-without-fencing.md). Two worker processes share one RedisSemaphore of 1 permit
// (leaseMs 500) and write to a store on loopback that keeps one record, twice over: a naive route
// (the last write wins) and a fenced one (it refuses a write whose fence is lower than the highest
// it has taken). Worker A acquires, checks its signal (not aborted), and is paused for 2 s between
// that check and its write: a stop-the-world GC pause, a CPU-starved container. Its lease lapses
// meanwhile; worker B is granted the permit and writes. Then A's stale write arrives.
//
//   npx tsx examples/lease-fencing.ts          (REDIS_URL, or a redis-server of its own)
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { RedisSemaphore } from '../src/redis/index.js';
import { startRedis } from '../test/redis/server.js';
import { collect, waitFor } from '../test/support/child.js';
import { listen } from './lib/http.js';

const LEASE_MS = 500;
const PAUSE_MS = 2_000; // 4 leases: B has the permit and has written long before A resumes
const SELF = fileURLToPath(import.meta.url);

interface Write {
  by: string;
  fence: number;
}
/** What one store route ended with: the record, and what it answered each write. */
export interface StoreOutcome {
  record: string;
  answers: Array<{ by: string; fence: number; status: number }>;
}
export interface FencingStoryResult {
  fenceA: number;
  fenceB: number;
  /** ms from A's check of its signal to B's grant, and to A's write reaching the store. */
  bGrantedAfter: number;
  aWroteAfter: number;
  naive: StoreOutcome;
  fenced: StoreOutcome;
  /** How A's permit signal ended, as A printed it. */
  aSignal: string;
}

/** A worker: `worker <A|B> <redis port> <store port> <key>`; prints one line per step. */
async function worker(who: string, redisPort: number, storePort: number, key: string): Promise<void> {
  const redis = new Redis(redisPort, '127.0.0.1');
  const sem = new RedisSemaphore(redis, { key, permits: 1, leaseMs: LEASE_MS });
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const write = (route: string, body: Write) =>
    fetch(`http://127.0.0.1:${storePort}/${route}`, { method: 'PUT', body: JSON.stringify(body) });
  if (who === 'B') {
    const waiting = sem.acquire({ timeout: 10_000 });
    await sem.inspect(); // sent behind the acquire: B is in line
    say('waiting');
    const permit = await waiting;
    say(`granted ${Date.now()} ${permit.fence}`);
    for (const route of ['naive', 'fenced']) await write(route, { by: 'B', fence: permit.fence });
    say('wrote');
    permit.release();
  } else {
    const permit = await sem.acquire();
    say(`held ${permit.fence}`);
    await new Promise((resolve) => process.stdin.once('data', resolve)); // until B is in line
    process.stdin.pause();
    if (permit.signal.aborted) throw new Error('A lost its lease before the pause');
    say(`checked ${Date.now()}`);
    // The pause: nothing in this process runs, the semaphore's timers included.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, PAUSE_MS);
    // The write goes out in the same turn as the check, as `if (!signal.aborted) write()` would.
    const sent = Promise.all(
      ['naive', 'fenced'].map((route) => write(route, { by: 'A', fence: permit.fence })),
    );
    // The semaphore's first callback after the pause tells the signal: too late for this write.
    const { signal } = permit;
    const told = () => say(`signal ${(signal.reason as Error).name}`);
    if (signal.aborted) told();
    else signal.addEventListener('abort', told, { once: true });
    await sent;
    say('wrote');
    permit.release();
  }
  await sem.close();
  await redis.quit();
}

/** The store: one record per route; `fenced` refuses a write whose fence is below the highest taken. */
async function startStore() {
  const routes = {
    naive: {
      record: '(empty)',
      highest: 0,
      answers: [] as StoreOutcome['answers'],
      arrivals: [] as number[],
    },
    fenced: {
      record: '(empty)',
      highest: 0,
      answers: [] as StoreOutcome['answers'],
      arrivals: [] as number[],
    },
  };
  const store = await listen((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk;
    });
    req.on('end', () => {
      const route = routes[req.url === '/fenced' ? 'fenced' : 'naive'];
      const { by, fence } = JSON.parse(body) as Write;
      const status = req.url === '/fenced' && fence < route.highest ? 409 : 200;
      if (status === 200) {
        route.record = by;
        route.highest = Math.max(route.highest, fence);
      }
      route.answers.push({ by, fence, status });
      route.arrivals.push(Date.now());
      res.writeHead(status).end();
    });
  });
  return { store, routes };
}

/** Runs the story with real processes, a real redis-server (or REDIS_URL) and a real store. */
export async function leaseFencingStory(): Promise<FencingStoryResult> {
  const own = process.env.REDIS_URL === undefined ? await startRedis() : undefined;
  const redisPort = own?.port ?? Number(new URL(process.env.REDIS_URL!).port || 6379);
  const { store, routes } = await startStore();
  const key = `example:lease-fencing:${process.pid}`;
  const children: ChildProcess[] = [];
  const start = (who: string) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', SELF, 'worker', who, String(redisPort), String(store.port), key],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    children.push(child);
    const out = collect(child);
    const exited = new Promise((resolve) => child.once('close', resolve));
    return { child, out, exited, line: (re: RegExp) => waitFor(child, () => out.stdout, re, 20_000) };
  };
  try {
    const a = start('A');
    const [, fenceA] = await a.line(/^held (\d+)$/m);
    const b = start('B');
    await b.line(/^waiting$/m);
    a.child.stdin!.end('go\n');
    const [, checkedAt] = await a.line(/^checked (\d+)$/m);
    const [, grantedAt, fenceB] = await b.line(/^granted (\d+) (\d+)$/m);
    await Promise.all([a.line(/^wrote$/m), b.line(/^wrote$/m)]);
    const [, aSignal] = await a.line(/^signal (.+)$/m);
    await Promise.all([a.exited, b.exited]);
    const arrivalOfA = routes.naive.arrivals[routes.naive.answers.findIndex((w) => w.by === 'A')]!;
    const outcome = (r: (typeof routes)['naive']): StoreOutcome => ({ record: r.record, answers: r.answers });
    return {
      fenceA: Number(fenceA),
      fenceB: Number(fenceB),
      bGrantedAfter: Number(grantedAt) - Number(checkedAt),
      aWroteAfter: arrivalOfA - Number(checkedAt),
      naive: outcome(routes.naive),
      fenced: outcome(routes.fenced),
      aSignal: aSignal!,
    };
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await store.close();
    await own?.destroy();
  }
}

function report(r: FencingStoryResult): string {
  const refused = r.fenced.answers.find((w) => w.by === 'A');
  return [
    `Two workers, one RedisSemaphore of 1 permit (leaseMs ${LEASE_MS}), one record in a store.`,
    `  A  acquired the permit with fence ${r.fenceA}, saw its signal not aborted, and was paused ${PAUSE_MS} ms before its write`,
    `  B  was granted the permit ${r.bGrantedAfter} ms into A's pause (A's lease had lapsed), fence ${r.fenceB}, and wrote "B"`,
    `  A  resumed: its write (fence ${r.fenceA}) went out at once, ${r.aWroteAfter} ms after its check; its signal aborted right after (${r.aSignal})`,
    `naive store (last write wins): the record is "${r.naive.record}": B's write is lost`,
    `fenced store: A's write answered ${refused?.status} (fence ${r.fenceA} < ${r.fenceB}); the record is "${r.fenced.record}"`,
    'Send permit.fence with every write the permit guards, and have the store refuse a lower one.',
  ].join('\n');
}

if (process.argv[2] === 'worker') {
  const [who, redisPort, storePort, key] = process.argv.slice(3);
  await worker(who!, Number(redisPort), Number(storePort), key!);
} else if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(report(await leaseFencingStory()));
}

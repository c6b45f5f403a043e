// One worker process of the fault campaign (campaign.ts): `node --import tsx worker.ts <json>`.
// Prints "ready" once connected, and waits for "go" on stdin; then runs `loops` loops of
// acquire (timeout 2 s) → a critical section (1-5 ms, or as configured) → release, until `ms` have passed. Every
// section is printed as it begins and as it ends (a pipe's writes are synchronous on Linux, so a
// worker killed with SIGKILL loses none), on the clock every process of the machine shares:
//   b <seq> <start>      l <seq> <why its signal aborted>      e <seq> <end> <lost|->
// and at the end one line `done {"calls":…,"settled":…,"errors":{code:n}}`, then it exits 0.
import { Redis } from 'ioredis';
import { RedisSemaphore } from '../../src/redis/index.js';

export interface WorkerConfig {
  port: number;
  key: string;
  permits: number;
  leaseMs: number;
  loops: number;
  ms: number;
  /** How long a section lasts: between these two (ms), at random. */
  sectionMs: [number, number];
}

export interface WorkerSummary {
  calls: number;
  settled: number;
  errors: Record<string, number>;
}

const config = JSON.parse(process.argv[2]!) as WorkerConfig;
const now = () => performance.timeOrigin + performance.now();
const print = (line: string) => process.stdout.write(`${line}\n`);

const redis = new Redis(config.port, '127.0.0.1');
redis.on('error', () => {}); // Redis is killed and paused on purpose: the semaphore reports what matters
const sem = new RedisSemaphore(redis, { key: config.key, permits: config.permits, leaseMs: config.leaseMs });
const summary: WorkerSummary = { calls: 0, settled: 0, errors: {} };
const count = (code: string) => {
  summary.errors[code] = (summary.errors[code] ?? 0) + 1;
};
let sequence = 0;

async function loop(deadline: number): Promise<void> {
  while (now() < deadline) {
    summary.calls++;
    let permit: Awaited<ReturnType<RedisSemaphore['acquire']>>;
    try {
      permit = await sem.acquire({ timeout: 2_000 });
    } catch (error) {
      summary.settled++;
      count((error as { code?: string }).code ?? (error as Error).name);
      continue;
    }
    summary.settled++;
    const seq = ++sequence;
    const start = now();
    let lost: number | undefined = permit.signal.aborted ? start : undefined;
    const onAbort = () => {
      lost = now();
      print(`l ${seq} ${(permit.signal.reason as Error).message}`);
    };
    permit.signal.addEventListener('abort', onAbort, { once: true });
    print(`b ${seq} ${start.toFixed(3)}`);
    const [shortest, longest] = config.sectionMs;
    await new Promise((resolve) => setTimeout(resolve, shortest + Math.random() * (longest - shortest)));
    const end = now();
    permit.signal.removeEventListener('abort', onAbort);
    permit.release();
    print(`e ${seq} ${end.toFixed(3)} ${lost === undefined ? '-' : lost.toFixed(3)}`);
    if (lost !== undefined) count('ERR_UNWEDGE_LEASE_LOST');
  }
}

await redis.ping();
print('ready');
await new Promise((resolve) => process.stdin.once('data', resolve));
process.stdin.pause();
const deadline = now() + config.ms;
await Promise.all(Array.from({ length: config.loops }, () => loop(deadline)));
await sem.close();
await redis.quit();
print(`done ${JSON.stringify(summary)}`);

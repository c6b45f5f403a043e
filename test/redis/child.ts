// A service instance for the cross-process tests, run as `node --import tsx child.ts <json>`.
//   fanout: prints "ready", waits for "go" on stdin, then sends `calls` calls at once through one RedisSemaphore;
//           each call counts itself in flight in Redis (and the peak), then prints a JSON summary.
//   local:  the same through a module-level in-process Semaphore: the per-process-limit hazard.
//   hold:   acquires `weight` permits, prints "held", and holds them until killed.
//   wait:   asks for a permit, prints "waiting" once Redis has it in line; when served prints
//           "enter <Date.now()> <fence> <signal.aborted>", holds it 50 ms, prints "exit <Date.now()>
//           <signal.aborted>", releases and exits.
//   crowd:  asks for `calls` permits at once, prints "waiting" once Redis has them all in line, and
//           waits until killed.
//   watch:  acquires a permit, prints "held <fence>"; when its signal aborts prints
//           "lost <Date.now()> <reason's code> <reason's message>", releases and exits.
import { Redis } from 'ioredis';
import { RedisSemaphore } from '../../src/redis/index.js';
import { Semaphore } from '../../src/semaphore/semaphore.js';

export interface ChildConfig {
  mode: 'fanout' | 'local' | 'hold' | 'wait' | 'crowd' | 'watch';
  port: number;
  key: string;
  permits: number;
  leaseMs: number;
  calls?: number;
  weight?: number;
  /** Redis keys of the in-flight counter and its peak. */
  inFlightKey?: string;
  peakKey?: string;
}

export interface FanoutSummary {
  ok: number;
  failed: string[];
}

// INCR the in-flight counter and raise the peak to it, atomically.
const ENTER = `
local n = redis.call('INCR', KEYS[1])
if n > tonumber(redis.call('GET', KEYS[2]) or '0') then redis.call('SET', KEYS[2], n) end
return n`;

const config = JSON.parse(process.argv[2]!) as ChildConfig;
const client = new Redis(config.port, '127.0.0.1');
const sem = new RedisSemaphore(client, { key: config.key, permits: config.permits, leaseMs: config.leaseMs });
const local = new Semaphore(config.permits, { name: config.key });

/** One storage call: counted in flight (and the peak) in Redis while it runs. */
async function call(signal?: AbortSignal): Promise<void> {
  await client.eval(ENTER, 2, config.inFlightKey!, config.peakKey!);
  await new Promise((resolve) => setTimeout(resolve, 1 + Math.random() * 2));
  await client.decr(config.inFlightKey!);
  signal?.throwIfAborted(); // a lost lease would have let others in: count it as a failure
}

if (config.mode === 'hold') {
  await sem.acquire({ weight: config.weight ?? config.permits });
  process.stdout.write('held\n');
} else if (config.mode === 'wait') {
  const waiting = sem.acquire();
  await sem.inspect(); // sent behind the acquire on the same connection: Redis has it in line
  process.stdout.write('waiting\n');
  const permit = await waiting;
  process.stdout.write(`enter ${Date.now()} ${permit.fence} ${permit.signal.aborted}\n`);
  await new Promise((resolve) => setTimeout(resolve, 50));
  process.stdout.write(`exit ${Date.now()} ${permit.signal.aborted}\n`);
  permit.release();
  await sem.close();
  await client.quit();
} else if (config.mode === 'crowd') {
  for (let i = 0; i < config.calls!; i++) sem.acquire().catch(() => {});
  await sem.inspect(); // sent behind the acquires on the same connection: Redis has them in line
  process.stdout.write('waiting\n');
} else if (config.mode === 'watch') {
  const permit = await sem.acquire();
  process.stdout.write(`held ${permit.fence}\n`);
  const reason = await new Promise<{ code?: string; message?: string }>((resolve) =>
    permit.signal.addEventListener('abort', () => resolve(permit.signal.reason), { once: true }),
  );
  process.stdout.write(`lost ${Date.now()} ${reason.code} ${reason.message}\n`);
  permit.release();
  await sem.close();
  await client.quit();
} else {
  await client.ping();
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => {
    process.stdin.on('data', (chunk) => {
      if (chunk.toString().includes('go')) resolve();
    });
  });
  process.stdin.pause();
  const summary: FanoutSummary = { ok: 0, failed: [] };
  const calls = Array.from({ length: config.calls! }, () =>
    (config.mode === 'local' ? local.run(() => call()) : sem.run((signal) => call(signal))).then(
      () => summary.ok++,
      (error: unknown) => summary.failed.push(String(error)),
    ),
  );
  await Promise.all(calls);
  await sem.close();
  await client.quit();
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

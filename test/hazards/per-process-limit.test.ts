// Hazard: docs/hazards/per-process-limit.md (seed 004), for real: three service processes share
// one limit through Redis. A module-level semaphore of 8 in each would let 24 through; one
// RedisSemaphore of 8 lets 8 through in total, and a process killed while holding permits gives
// them back when its leases lapse.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { RedisSemaphore } from '../../src/redis/index.js';
import type { ChildConfig, FanoutSummary } from '../redis/child.js';
import { within } from '../redis/contract.js';
import { type RedisServer, startRedis } from '../redis/server.js';

const CHILD = fileURLToPath(new URL('../redis/child.ts', import.meta.url));
let server: RedisServer;
let client: Redis;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  server = await startRedis();
  client = new Redis(server.port, '127.0.0.1');
});
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await Promise.all(
    [...children].map((child) => (child.exitCode === null ? once(child, 'close') : undefined)),
  );
  await client?.quit();
  await server?.destroy();
});

/** Starts a child instance; `lines[i]` resolves with the i-th line it prints (rejects if it exits first). */
function start(config: Omit<ChildConfig, 'port'>) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', CHILD, JSON.stringify({ ...config, port: server.port })],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  children.add(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | string>((resolve) => {
    child.once('close', (code, signal) => {
      children.delete(child);
      resolve(code ?? signal ?? 'unknown');
    });
  });
  const settlers: Array<{ resolve: (line: string) => void; reject: (error: Error) => void }> = [];
  const lines = [0, 1].map(
    () =>
      new Promise<string>((resolve, reject) => {
        settlers.push({ resolve, reject });
      }),
  );
  for (const line of lines) line.catch(() => {});
  let out = '';
  let seen = 0;
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    for (let end = out.indexOf('\n'); end !== -1; end = out.indexOf('\n')) {
      settlers[seen++]?.resolve(out.slice(0, end));
      out = out.slice(end + 1);
    }
  });
  exited.then((code) => {
    for (const s of settlers.slice(seen))
      s.reject(new Error(`child exited (${code}) before printing:\n${stderr}`));
  });
  return { child, lines, exited };
}

/** Three instances, each sending `calls` calls at once through its limiter; the peak in flight across all. */
async function fanOutAcrossThree(mode: 'fanout' | 'local', key: string, calls: number) {
  const inFlightKey = `${key}:in-flight`;
  const peakKey = `${key}:peak`;
  const instances = [1, 2, 3].map(() =>
    start({ mode, key, permits: 8, leaseMs: 5_000, calls, inFlightKey, peakKey }),
  );
  // Start together, once all three have loaded and connected, so that they really contend.
  const ready = await within(Promise.all(instances.map(({ lines }) => lines[0]!)), 20_000, 'ready');
  expect(ready).toEqual(['ready', 'ready', 'ready']);
  for (const { child } of instances) child.stdin!.write('go\n');
  const summaries = await within(
    Promise.all(instances.map(({ lines }) => lines[1]!.then((line) => JSON.parse(line) as FanoutSummary))),
    40_000,
    'three instances',
  );
  const exits = await Promise.all(instances.map(({ exited }) => exited));
  const peak = Number(await client.get(peakKey));
  const inFlight = Number(await client.get(inFlightKey));
  return { summaries, exits, peak, inFlight };
}

test('per-process limit: three processes with a module-level Semaphore of 8 each let more than 8 through', async () => {
  const { summaries, exits, peak, inFlight } = await fanOutAcrossThree('local', 'local-limit', 200);
  expect(exits).toEqual([0, 0, 0]);
  expect(summaries.map((s) => s.ok)).toEqual([200, 200, 200]);
  expect(peak).toBeGreaterThan(8); // up to 24: the limit was per process
  expect(inFlight).toBe(0);
});

test('three processes fanning out 500 calls each through one RedisSemaphore of 8 never have more than 8 in flight', async () => {
  const key = 'storage-chunks';
  const { summaries, exits, peak, inFlight } = await fanOutAcrossThree('fanout', key, 500);
  for (const [i, summary] of summaries.entries()) {
    expect(summary.failed, `instance ${i} failures`).toEqual([]);
    expect(summary.ok).toBe(500);
  }
  expect(exits).toEqual([0, 0, 0]);
  expect(peak).toBeLessThanOrEqual(8);
  expect(peak).toBeGreaterThan(1);
  expect(inFlight).toBe(0);
  // Every permit came back, and nobody is left in line.
  const sem = new RedisSemaphore(client, { key, permits: 8 });
  expect(await sem.inspect()).toEqual({ used: 0, queued: 0, holders: 0 });
  await sem.close();
});

test('a process killed with SIGKILL while holding permits gives them back within leaseMs + 1 s', async () => {
  const key = 'killed-holder';
  const leaseMs = 1_000;
  const holder = start({ mode: 'hold', key, permits: 8, leaseMs, weight: 8 });
  expect(await within(holder.lines[0]!, 15_000, 'holder')).toBe('held');
  const sem = new RedisSemaphore(client, { key, permits: 8, leaseMs });
  try {
    const waits = [4, 2, 2].map((weight) => sem.acquire({ weight, timeout: 10_000 }));
    expect(await sem.inspect()).toEqual({ used: 8, queued: 3, holders: 1 });
    const killed = performance.now();
    holder.child.kill('SIGKILL');
    expect(await holder.exited).toBe('SIGKILL');
    const permits = await within(Promise.all(waits), leaseMs + 1_000, 'permits of the killed holder');
    expect(performance.now() - killed).toBeLessThanOrEqual(leaseMs + 1_000);
    expect(sem.held).toBe(8);
    for (const permit of permits) permit.release();
    expect(await sem.inspect()).toEqual({ used: 0, queued: 0, holders: 0 });
  } finally {
    await sem.close();
  }
});

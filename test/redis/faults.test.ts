// RedisSemaphore under faults (issue 23), against a real redis-server and real child processes
// stopped with SIGSTOP (what a long GC pause or a throttled container does): a waiter stopped
// across its grant is never handed the lapsed permit, a holder stopped past its lease is told at
// its first turn, by its own clock; and fences keep increasing across instances and restarts.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { RedisSemaphore, type RedisSemaphoreOptions } from '../../src/redis/index.js';
import { collect, waitFor } from '../support/child.js';
import type { ChildConfig } from './child.js';
import { waitUntil, within } from './contract.js';
import { type RedisServer, startRedis } from './server.js';

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));
let server: RedisServer;
const clients: Redis[] = [];
const opened: RedisSemaphore[] = [];
const children = new Set<ChildProcess>();

beforeAll(async () => {
  server = await startRedis();
});
afterEach(async () => {
  for (const child of children) {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  }
  await Promise.all([...children].map((child) => once(child, 'close')));
  await closeAll();
});

/** Closes every semaphore the test opened, then quits their clients. */
async function closeAll(): Promise<void> {
  await Promise.all(opened.splice(0).map((s) => s.close()));
  await Promise.all(clients.splice(0).map((c) => (c.status === 'end' ? undefined : c.quit())));
}
afterAll(async () => {
  await server?.destroy();
});

function semaphore(port: number, options: Partial<RedisSemaphoreOptions> & { key: string }) {
  const client = new Redis(port, '127.0.0.1');
  clients.push(client);
  const sem = new RedisSemaphore(client, { permits: 1, ...options });
  opened.push(sem);
  return sem;
}

/** A child instance (test/redis/child.ts); `line(pattern)` waits for a line of its stdout. */
function start(config: Omit<ChildConfig, 'port'>) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', CHILD, JSON.stringify({ ...config, port: server.port })],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.add(child);
  const out = collect(child);
  const exited = new Promise<number | string>((resolve) => {
    child.once('close', (code, signal) => {
      children.delete(child);
      resolve(code ?? signal ?? 'unknown');
    });
  });
  const line = (pattern: RegExp, ms = 15_000) => waitFor(child, () => out.stdout, pattern, ms);
  return { child, out, exited, line };
}

describe('a process stopped past its lease', () => {
  test('a waiter stopped across its grant never resolves with the lapsed permit: it goes back in line and enters only after the holder releases', async () => {
    const key = 'stalled-waiter';
    const leaseMs = 300;
    const parent = semaphore(server.port, { key, leaseMs });
    const first = await parent.acquire();
    const waiter = start({ mode: 'wait', key, permits: 1, leaseMs });
    await waiter.line(/^waiting$/m);
    // Stopped only once it listens for its wake-up, so that the grant is announced to it, as in
    // the issue (else it hears of the grant from its poll after SIGCONT).
    const admin = new Redis(server.port, '127.0.0.1');
    clients.push(admin);
    const wake = `unwedge:sem:{${key}}:wake:*`;
    await waitUntil(
      async () => (await admin.pubsub('CHANNELS', wake)).length === 1,
      5_000,
      'its subscription',
    );
    waiter.child.kill('SIGSTOP');
    first.release();
    // The release serves the line: Redis grants the only permit to the stopped child...
    expect(await parent.inspect()).toEqual({ used: 1, queued: 0, holders: 1 });
    // ...whose lease lapses unrefreshed; the parent then holds the only permit again.
    const second = await within(parent.acquire({ timeout: 3_000 }), 3_000, 'the permit after the lapse');
    waiter.child.kill('SIGCONT');
    // The child's first turns claim the grant, find it gone and put the child back in line. A
    // child handed the dead permit would print "enter" instead (the issue saw it, 102 ms long).
    await waitUntil(
      async () => /^enter/m.test(waiter.out.stdout) || (await parent.inspect()).queued === 1,
      3_000,
      'the child back in line',
    );
    expect(waiter.out.stdout).not.toMatch(/^enter/m);
    expect(second.signal.aborted).toBe(false);
    const released = Date.now();
    second.release();
    const [, at, fence, aborted] = await waiter.line(/^enter (\d+) (\d+) (\w+)$/m);
    expect(Number(at)).toBeGreaterThanOrEqual(released); // never while the parent held it
    expect(aborted).toBe('false');
    expect(Number(fence)).toBeGreaterThan(second.fence);
    await waiter.line(/^exit \d+ false$/m);
    expect(await waiter.exited).toBe(0);
    expect(waiter.out.stdout.match(/^enter/gm)).toHaveLength(1);
    expect(waiter.out.stderr).toBe('');
  });

  test('a holder stopped past its lease aborts its permit by its own clock at its first turn after SIGCONT', async () => {
    const key = 'stopped-holder';
    const leaseMs = 300;
    const holder = start({ mode: 'watch', key, permits: 1, leaseMs });
    const [, heldFence] = await holder.line(/^held (\d+)$/m);
    holder.child.kill('SIGSTOP');
    const parent = semaphore(server.port, { key, leaseMs });
    // Served once the stopped holder's lease has lapsed: the stop is now longer than the lease.
    const permit = await within(parent.acquire({ timeout: 3_000 }), 3_000, 'the lapsed permit');
    expect(permit.fence).toBeGreaterThan(Number(heldFence));
    const resumed = Date.now();
    holder.child.kill('SIGCONT');
    const [, at, code, message] = await holder.line(/^lost (\d+) (\S+) (.*)$/m, 5_000);
    expect(code).toBe('ERR_UNWEDGE_LEASE_LOST');
    // Its own clock said so, not a refresh's answer ("found expired"), which would come a round trip later.
    expect(message).toMatch(
      /^semaphore "stopped-holder" lost a permit: its lease could not be kept \(it lapsed here: Redis last confirmed it \d+ ms ago, leaseMs is 300\)$/,
    );
    // Within a period (leaseMs / 3) of SIGCONT; measured 1-2 ms in 5 runs on a 2-core machine
    // (Date.now() in both processes, so whole ms).
    expect(Number(at) - resumed).toBeLessThan(leaseMs / 3);
    expect(await holder.exited).toBe(0);
    expect(holder.out.stderr).toBe('');
    expect(permit.signal.aborted).toBe(false);
    permit.release();
  });
});

describe('a dead instance', () => {
  test("its waiters at the head of the line hold the permits freed to them for one claim window, not a lease: then all of them leave and the next instance's waiter is served", async () => {
    const key = 'dead-crowd';
    // leaseMs 6000: ticks every 2000 ms for leases, claims within min(2000, 1000) = 1000 ms.
    const leaseMs = 6_000;
    const holder = semaphore(server.port, { key, permits: 2, leaseMs });
    const held = [await holder.acquire(), await holder.acquire()];
    // Four waiters of the instance about to die: two batches of the two permits.
    const crowd = start({ mode: 'crowd', key, permits: 2, leaseMs, calls: 4 });
    await crowd.line(/^waiting$/m);
    const next = semaphore(server.port, { key, permits: 2, leaseMs });
    const served = next.acquire({ timeout: 5_000 });
    expect(await next.inspect()).toEqual({ used: 2, queued: 5, holders: 2 });
    crowd.child.kill('SIGKILL');
    expect(await crowd.exited).toBe('SIGKILL');
    const released = performance.now();
    for (const permit of held) permit.release();
    // Granted a lease, the dead waiters would keep both permits until their heartbeat lapsed (6 s);
    // granted one by one batch at a time, 2 claim windows. Nobody else calls Redis meanwhile, so
    // `next` sees the lapse by its own tick (every claim window while it waits).
    const permit = await within(served, 5_000, "the next instance's waiter");
    const waited = performance.now() - released;
    expect(waited).toBeGreaterThanOrEqual(900); // the dead waiters had their window (Redis's clock: whole ms)
    expect(waited).toBeLessThan(1_700);
    expect(await next.inspect()).toEqual({ used: 1, queued: 0, holders: 1 });
    permit.release();
  });
});

describe('fences', () => {
  test('fences strictly increase across two instances, for grants made at once and to woken waiters', async () => {
    const key = 'fences';
    const a = semaphore(server.port, { key });
    const b = semaphore(server.port, { key });
    const fences: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [holder, other] = i % 2 === 0 ? [a, b] : [b, a];
      const held = await holder.acquire();
      fences.push(held.fence);
      const waiting = other.acquire({ timeout: 3_000 });
      await other.inspect(); // in line
      held.release();
      const woken = await within(waiting, 3_000, 'the woken waiter');
      fences.push(woken.fence);
      woken.release();
      await other.inspect(); // released
      const tried = await holder.acquireIfFree();
      fences.push(tried!.fence);
      tried!.release();
      await holder.inspect();
    }
    expect(fences).toHaveLength(12);
    for (let i = 1; i < fences.length; i++) expect(fences[i]).toBeGreaterThan(fences[i - 1]!);
    for (const fence of fences) expect(Number.isSafeInteger(fence)).toBe(true);
  });

  test('with persistence, fences go on increasing after redis-server is killed and restarted, and after the clients restart', async () => {
    const persisted = await startRedis({ persistence: true });
    try {
      const before = semaphore(persisted.port, { key: 'persisted' });
      const first = await before.acquire();
      first.release();
      const second = await before.acquire();
      second.release();
      await before.inspect();
      expect(second.fence).toBeGreaterThan(first.fence);
      await closeAll();
      await persisted.stop(); // SIGKILL
      await persisted.start();
      const after = semaphore(persisted.port, { key: 'persisted' }); // a new client, a new instance
      const third = await after.acquire();
      expect(third.fence).toBeGreaterThan(second.fence);
      third.release();
      await after.inspect();
    } finally {
      await closeAll();
      await persisted.destroy();
    }
  });

  test('without persistence, a restart of redis-server loses the count: fences start again at 1', async () => {
    const key = 'not-persisted';
    const before = semaphore(server.port, { key });
    for (let i = 0; i < 3; i++) (await before.acquire()).release();
    const last = await before.acquire();
    expect(last.fence).toBe(4);
    last.release();
    await before.inspect();
    await closeAll();
    await server.stop();
    await server.start();
    const after = semaphore(server.port, { key });
    const permit = await after.acquire();
    expect(permit.fence).toBe(1);
    permit.release();
  });
});

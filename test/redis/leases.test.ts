// The lease clock of one RedisSemaphore instance (redis/leases.ts, redis/line.ts), on fake timers
// and without Redis: a permit is lost by this process's own monotonic clock once its lease may
// have lapsed, by its timer or by whichever callback of ours runs first after a pause, and a grant
// that arrives too late to be trusted is never handed over.
import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { park } from '../../src/core/wait.js';
import { LeaseLostError } from '../../src/errors.js';
import type { Link, Spec } from '../../src/redis/client.js';
import type { RedisPermit } from '../../src/redis/index.js';
import { Leases } from '../../src/redis/leases.js';
import { Line, RedisWaiter } from '../../src/redis/line.js';

// leaseMs 300: trusted for 300 - 1 % - 2 ms = 295 ms after the confirming command was sent.
const spec: Spec = {
  key: 'k',
  name: undefined,
  who: 'semaphore "k"',
  permits: 2,
  leaseMs: 300,
  period: 100,
  claimMs: 100,
  trustMs: 295,
  onError: undefined,
};

let drops: string[];
let link: Link;
let leases: Leases;
let paused = 0;

beforeEach(() => {
  vi.useFakeTimers();
  paused = 0;
  const fakeNow = performance.now.bind(performance);
  vi.spyOn(performance, 'now').mockImplementation(() => fakeNow() + paused);
  drops = [];
  link = { drop: (id: string) => drops.push(id), seen: { used: 0, queued: 0 }, status: 'ready' } as never;
  leases = new Leases(link, spec);
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

/** Stops the process for `ms`, as SIGSTOP does: the monotonic clock moves on, no timer fires. */
const pause = (ms: number) => {
  paused += ms;
};

test('a held permit is lost by its own timer 295 ms after the command that confirmed it was sent, with no round trip', () => {
  const permit = leases.take('i:1:1', 1, performance.now(), 7);
  vi.advanceTimersByTime(294);
  expect(permit.signal.aborted).toBe(false);
  vi.advanceTimersByTime(1);
  expect(permit.signal.reason).toBeInstanceOf(LeaseLostError);
  expect((permit.signal.reason as Error).message).toBe(
    'semaphore "k" lost a permit: its lease could not be kept (it lapsed here: Redis last confirmed it 295 ms ago, leaseMs is 300)',
  );
  expect(leases.held).toBe(0);
  expect(vi.getTimerCount()).toBe(0);
  permit.release(); // still tells Redis
  expect(drops).toEqual(['i:1:1']);
});

test('a refresh moves the lapse: the timer finds the lease confirmed and waits for the new one', () => {
  const sentAt = performance.now();
  const permit = leases.take('i:1:1', 1, sentAt, 7);
  vi.advanceTimersByTime(100);
  leases.confirm('i:1:1', performance.now());
  leases.confirm('i:1:1', sentAt); // an older confirmation never moves it back
  vi.advanceTimersByTime(294);
  expect(permit.signal.aborted).toBe(false);
  expect(vi.getTimerCount()).toBe(1);
  vi.advanceTimersByTime(1);
  expect(permit.signal.reason).toBeInstanceOf(LeaseLostError);
  expect(vi.getTimerCount()).toBe(0);
});

test('after a pause longer than the lease, the first callback that checks aborts every lapsed permit before its timer runs', () => {
  const old = leases.take('i:1:1', 1, performance.now(), 7);
  const oldSignal = old.signal; // read before the pause
  pause(200);
  const recent = leases.take('i:2:1', 1, performance.now(), 8);
  const recentSignal = recent.signal;
  pause(200); // old: confirmed 400 ms ago; recent: 200 ms ago
  expect(oldSignal.aborted).toBe(false); // nothing of ours has run yet
  leases.expire(); // what every callback of the instance does first
  expect(oldSignal.reason).toBeInstanceOf(LeaseLostError);
  expect((oldSignal.reason as Error).message).toMatch(/Redis last confirmed it 400 ms ago/);
  expect(recentSignal.aborted).toBe(false);
  expect(leases.held).toBe(1);
  vi.advanceTimersByTime(94);
  expect(recent.signal.aborted).toBe(false);
  vi.advanceTimersByTime(1);
  expect(recent.signal.reason).toBeInstanceOf(LeaseLostError);
  expect(vi.getTimerCount()).toBe(0);
});

test("reading a permit's signal after a pause does not abort it on the spot: a listener added then still hears the abort", () => {
  const permit = leases.take('i:1:1', 1, performance.now(), 7); // handed over, then the process stops
  pause(400);
  const heard: unknown[] = [];
  permit.signal.addEventListener('abort', () => heard.push(permit.signal.reason)); // no check of aborted first
  leases.expire(); // the semaphore's first callback after the pause
  expect(heard).toHaveLength(1);
  expect((heard[0] as Error).message).toMatch(/Redis last confirmed it 400 ms ago/);
});

test('released permits leave no timer behind', () => {
  const permits = [1, 2, 3].map((n) => leases.take(`i:${n}:1`, 1, performance.now(), n));
  expect(vi.getTimerCount()).toBe(1); // one timer for all the leases of an instance
  for (const permit of permits) permit.release();
  expect(vi.getTimerCount()).toBe(0);
  expect(drops).toEqual(['i:1:1', 'i:2:1', 'i:3:1']);
  expect(permits.every((p) => !p.signal.aborted)).toBe(true);
});

test('a grant confirmed by a command sent 295 ms ago or more is not handed over: its waiter stays in line, and takes a fresh one', async () => {
  const line = new Line(link, leases, spec);
  const waiter = new RedisWaiter('i:1:1', 1, undefined, performance.now());
  const acquired = park<RedisPermit, RedisWaiter>(line, waiter, undefined, undefined);
  line.index(waiter);
  let settled = false;
  void acquired.then(() => {
    settled = true;
  });
  pause(295); // stopped between the acquire's send and its reply
  expect(line.grant('i:1:1', waiter.sentAt, 3)).toBe(false);
  await Promise.resolve();
  expect(settled).toBe(false);
  expect([line.length, line.has('i:1:1'), leases.held]).toEqual([1, true, 0]);
  // The tick that asks again is sent now: its reply is trusted.
  expect(line.grant('i:1:1', performance.now(), 4)).toBe(true);
  const permit = await acquired;
  expect([permit.fence, permit.signal.aborted, leases.held, line.length]).toEqual([4, false, 1, 0]);
  expect(line.grant('i:1:1', performance.now(), 5)).toBe(true); // a late second grant: ignored
  expect(leases.held).toBe(1);
  permit.release();
});

// diagnostics_channel: each parked wait and each per-call work publishes its start and its end,
// and each reported task failure is published.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { describe, expect, test, vi } from 'vitest';
import { disarm, fail, park, settle, Waiter, type WaitHost } from '../../src/core/wait.js';
import { WaiterList } from '../../src/core/waiters.js';
import { ClosedError, DeadlockError, TimeoutError } from '../../src/errors.js';
import { fanOut } from '../../src/fan-out/fan-out.js';
import { channels, inspect, type WaitEndMessage, type WaitStartMessage } from '../../src/inspect/index.js';
import { WorkerPool } from '../../src/pool/index.js';
import { BoundedQueue } from '../../src/queue/queue.js';
import { TaskRegistry } from '../../src/registry/registry.js';
import { Semaphore } from '../../src/semaphore/semaphore.js';
import { withTimeout } from '../../src/timeout.js';
import { flush, onFakeTimeWithDefaults } from '../support/inspect.js';
import { deferred, track } from '../support/promises.js';

onFakeTimeWithDefaults();

describe('diagnostics_channel', () => {
  function listen() {
    const events: Array<['start', WaitStartMessage] | ['end', WaitEndMessage]> = [];
    const onStart = (m: unknown) => events.push(['start', m as WaitStartMessage]);
    const onEnd = (m: unknown) => events.push(['end', m as WaitEndMessage]);
    subscribe(channels.waitStart, onStart);
    subscribe(channels.waitEnd, onEnd);
    return {
      events,
      stop() {
        unsubscribe(channels.waitStart, onStart);
        unsubscribe(channels.waitEnd, onEnd);
      },
    };
  }

  test('a subscriber to unwedge:wait:end alone gets every end, with its duration', async () => {
    const ends: WaitEndMessage[] = [];
    const onEnd = (m: unknown) => ends.push(m as WaitEndMessage);
    subscribe(channels.waitEnd, onEnd);
    try {
      const sem = new Semaphore(1, { name: 'dc-end-only' });
      const held = await sem.acquire();
      const waiting = track(sem.acquire());
      const call = track(withTimeout(new Promise(() => {}), 200, { name: 'dc-end-only-call' }));
      await vi.advanceTimersByTimeAsync(200);
      held.release();
      await flush();
      expect(waiting.status).toBe('fulfilled');
      expect(call.reason).toBeInstanceOf(TimeoutError);
      expect(ends.map((m) => [m.kind, m.what, m.outcome, m.duration])).toEqual([
        ['withTimeout', '"dc-end-only-call"', 'timeout', 200],
        ['semaphore', 'acquire 1 permit', 'granted', 200],
      ]);
    } finally {
      unsubscribe(channels.waitEnd, onEnd);
    }
  });

  test('a fanOut whose call rejects with undefined ends as failed, not aborted', async () => {
    const l = listen();
    try {
      const result = track(fanOut([1], () => Promise.reject(undefined), { window: 1 }));
      await flush();
      expect(result.status).toBe('rejected');
      expect(result.reason).toBeUndefined();
      const end = l.events.find(([e, m]) => e === 'end' && m.kind === 'fanOut');
      expect(end?.[1]).toMatchObject({ outcome: 'failed' });
    } finally {
      l.stop();
    }
  });

  test('a thenable whose then() throws fails its withTimeout call at once and leaves nothing listed', async () => {
    const broken = new Error('then() broke');
    const thenable = {
      // biome-ignore lint/suspicious/noThenProperty: a broken thenable on purpose.
      then() {
        throw broken;
      },
    };
    const call = track(
      withTimeout(thenable as unknown as PromiseLike<never>, undefined, { name: 'broken-thenable' }),
    );
    await flush();
    expect(call.reason).toBe(broken);
    expect(inspect().primitives.some((p) => p.kind === 'withTimeout')).toBe(false);
  });

  test('a pool names its queued runs and its idle and shutdown waits', async () => {
    const pool = new WorkerPool({ concurrency: 1, name: 'dc-pool-waits' });
    const gate = deferred();
    const running = track(pool.run(() => gate.promise));
    const l = listen();
    try {
      const queued = track(pool.run(() => 'next', { queueTimeout: 50 }));
      const idle = track(pool.idle({ timeout: 1_000 }));
      const shutdown = track(pool.shutdown({ drain: true, timeout: 2_000 }));
      await vi.advanceTimersByTimeAsync(50);
      gate.resolve();
      await flush();
      expect([running.status, queued.status, idle.status, shutdown.status]).toEqual([
        'fulfilled',
        'rejected',
        'fulfilled',
        'fulfilled',
      ]);
      expect(
        l.events.map(([e, m]) => [e, m.kind, m.name, m.what, m.timeout, 'outcome' in m ? m.outcome : '']),
      ).toEqual([
        ['start', 'pool', 'dc-pool-waits', 'run (queued)', 50, ''],
        ['start', 'pool', 'dc-pool-waits', 'idle', 1_000, ''],
        ['start', 'pool', 'dc-pool-waits', 'shutdown (drain)', 2_000, ''],
        ['end', 'pool', 'dc-pool-waits', 'run (queued)', 50, 'timeout'],
        ['end', 'pool', 'dc-pool-waits', 'idle', 1_000, 'granted'],
        ['end', 'pool', 'dc-pool-waits', 'shutdown (drain)', 2_000, 'granted'],
      ]);
    } finally {
      l.stop();
    }
  });

  test('each parked wait publishes start then end, with the same id and how it ended', async () => {
    const sem = new Semaphore(1, { name: 'dc' });
    const held = await sem.acquire(); // not parked: nothing published
    const l = listen();
    try {
      const ac = new AbortController();
      const granted = track(sem.acquire());
      const timedOut = track(sem.acquire({ timeout: 100 }));
      const aborted = track(sem.acquire({ signal: ac.signal }));
      expect(l.events.map(([e, m]) => [e, m.what, m.timeout])).toEqual([
        ['start', 'acquire 1 permit', undefined],
        ['start', 'acquire 1 permit', 100],
        ['start', 'acquire 1 permit', undefined],
      ]);
      ac.abort(new Error('user'));
      await vi.advanceTimersByTimeAsync(100);
      held.release();
      await flush();
      expect(granted.status).toBe('fulfilled');
      expect(timedOut.reason).toBeInstanceOf(TimeoutError);
      expect(aborted.reason).toEqual(new Error('user'));
      const ids = l.events.slice(0, 3).map(([, m]) => m.id);
      expect(new Set(ids).size).toBe(3);
      const ends = l.events.slice(3) as Array<['end', WaitEndMessage]>;
      expect(ends.map(([e, m]) => [e, m.id, m.outcome, m.kind, m.name])).toEqual([
        ['end', ids[2], 'aborted', 'semaphore', 'dc'],
        ['end', ids[1], 'timeout', 'semaphore', 'dc'],
        ['end', ids[0], 'granted', 'semaphore', 'dc'],
      ]);
      expect(ends.map(([, m]) => m.duration)).toEqual([0, 100, 100]);
    } finally {
      l.stop();
    }
  });

  test('queue waits end as closed when the queue shuts down; a deadlock ends as failed', async () => {
    const l = listen();
    try {
      const q = new BoundedQueue<number>({ capacity: 1, name: 'dc-q' });
      const get = track(q.get());
      q.shutdown({ immediate: true });
      await flush();
      expect(get.reason).toBeInstanceOf(ClosedError);
      expect(l.events.map(([e, m]) => [e, m.kind, m.name, m.what, (m as WaitEndMessage).outcome])).toEqual([
        ['start', 'queue', 'dc-q', 'get', undefined],
        ['end', 'queue', 'dc-q', 'get', 'closed'],
      ]);

      l.events.length = 0;
      const sem = new Semaphore(1, { name: 'dc-dead', detectDeadlocks: true });
      const nested = track(sem.run(() => sem.acquire()));
      await flush();
      expect(nested.reason).toBeInstanceOf(DeadlockError);
      expect(l.events.map(([e, m]) => [e, (m as WaitEndMessage).outcome])).toEqual([
        ['start', undefined],
        ['end', 'failed'],
      ]);
    } finally {
      l.stop();
    }
  });

  test('withTimeout and fanOut calls publish start and end too', async () => {
    const l = listen();
    try {
      const slow = track(withTimeout(new Promise(() => {}), 200, { name: 'dc-call' }));
      const fine = track(withTimeout(Promise.resolve(1), 200));
      const failing = track(withTimeout(Promise.reject(new Error('no')), 200));
      const fan = track(fanOut([1], async (n) => n, { window: 1 }));
      await vi.advanceTimersByTimeAsync(200);
      expect(slow.reason).toBeInstanceOf(TimeoutError);
      expect(fine.value).toBe(1);
      expect(failing.reason).toEqual(new Error('no'));
      expect(fan.value).toEqual([1]);
      const byId = new Map<number, string[]>();
      for (const [e, m] of l.events) {
        byId.set(m.id, [
          ...(byId.get(m.id) ?? []),
          e === 'start' ? `start ${m.kind} ${m.what}` : `end ${(m as WaitEndMessage).outcome}`,
        ]);
      }
      expect([...byId.values()]).toEqual([
        ['start withTimeout "dc-call"', 'end timeout'],
        ['start withTimeout operation', 'end granted'],
        ['start withTimeout operation', 'end failed'],
        ['start fanOut window 1: 0 in flight, 0 started', 'end granted'],
      ]);
    } finally {
      l.stop();
    }
  });

  test('a wait that parked before anyone subscribed publishes no unpaired end', async () => {
    const sem = new Semaphore(1, { name: 'dc-late' });
    const held = await sem.acquire();
    const waiting = track(sem.acquire());
    const l = listen();
    try {
      held.release();
      await flush();
      expect(waiting.status).toBe('fulfilled');
      expect(l.events).toEqual([]);
    } finally {
      l.stop();
    }
  });

  test('a host without describeWait is named by its class; a TimeoutError from the host ends as timeout', async () => {
    class Gate implements WaitHost<Waiter<void>> {
      readonly waiters = new WaiterList<Waiter<void>>();
      constructor(readonly name?: string) {}
      timeoutError(): Error {
        return new TimeoutError('gate timed out');
      }
      onLeave(): void {}
    }
    const l = listen();
    try {
      const named = new Gate('front');
      const first = new Waiter<void>();
      const a = track(park<void>(named, first, undefined, undefined));
      const anonymous = new Gate();
      const second = new Waiter<void>();
      const b = track(park<void>(anonymous, second, undefined, 50));
      named.waiters.remove(first);
      fail(first, new TimeoutError('the host gave up'));
      disarm(first); // already ended: nothing more is published
      disarm(new Waiter<void>()); // never parked (a task started at once): nothing published
      anonymous.waiters.remove(second);
      settle(second, undefined);
      await flush();
      expect(a.reason).toBeInstanceOf(TimeoutError);
      expect(b.status).toBe('fulfilled');
      expect(
        l.events.map(([e, m]) => [e, m.kind, m.name, m.what, m.timeout, (m as WaitEndMessage).outcome]),
      ).toEqual([
        ['start', 'Gate', 'front', 'wait', undefined, undefined],
        ['start', 'Gate', undefined, 'wait', 50, undefined],
        ['end', 'Gate', 'front', 'wait', undefined, 'timeout'],
        ['end', 'Gate', undefined, 'wait', 50, 'granted'],
      ]);
    } finally {
      l.stop();
    }
  });

  test('pool and registry failures nobody awaits are published on unwedge:task:error', async () => {
    const seen: unknown[] = [];
    const onMessage = (m: unknown) => seen.push(m);
    subscribe(channels.taskError, onMessage);
    try {
      const pool = new WorkerPool({ concurrency: 1, name: 'dc-pool', onError: () => {} });
      const late = new Error('failed after its run() ended');
      const ac = new AbortController();
      const gate = deferred();
      const run = track(pool.run(() => gate.promise.then(() => Promise.reject(late)), { signal: ac.signal }));
      ac.abort(new Error('gave up'));
      gate.resolve();
      await flush();
      expect(run.status).toBe('rejected');
      const registry = new TaskRegistry({ name: 'dc-registry', onError: () => {} });
      const broke = new Error('background job broke');
      registry.spawn('nightly', () => Promise.reject(broke));
      await flush();
      expect(seen).toEqual([
        { kind: 'pool', name: 'dc-pool', task: undefined, error: late },
        { kind: 'registry', name: 'dc-registry', task: 'nightly', error: broke },
      ]);
    } finally {
      unsubscribe(channels.taskError, onMessage);
    }
  });

  test('a queue consumer handler failure is published on unwedge:task:error', async () => {
    const seen: unknown[] = [];
    const onError = (m: unknown) => seen.push(m);
    subscribe(channels.taskError, onError);
    try {
      const q = new BoundedQueue<string>({ capacity: 2, name: 'dc-consumer' });
      const failure = new Error('handler broke');
      const reported: unknown[] = [];
      const consumer = q.consume(
        () => {
          throw failure;
        },
        { onError: (error) => reported.push(error) },
      );
      await q.put('job-1');
      await flush();
      expect(reported).toEqual([failure]);
      expect(seen).toEqual([{ kind: 'queue', name: 'dc-consumer', task: 'job-1', error: failure }]);
      unsubscribe(channels.taskError, onError);
      await q.put('job-2'); // nobody listens: still reported, nothing published
      await flush();
      expect(reported).toEqual([failure, failure]);
      expect(seen).toHaveLength(1);
      await consumer.stop();
    } finally {
      unsubscribe(channels.taskError, onError);
    }
  });
});

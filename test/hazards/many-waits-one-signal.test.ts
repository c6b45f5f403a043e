// docs/hazards/many-waits-one-signal.md: one request's or one shutdown's signal passed to every wait.
// Each wait used to add its own abort listener: Node's EventTarget scans its listeners on every add
// and remove, so aborting N waits cost O(N^2), and the 11th printed MaxListenersExceededWarning into
// the service's logs. Every primitive now adds one listener per signal, however many waits share it.
// (How long the abort takes is measured in bench/shared-signal.ts, not here.)
import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { fanOut } from '../../src/fan-out/fan-out.js';
import { WorkerPool } from '../../src/pool/index.js';
import { BoundedQueue } from '../../src/queue/queue.js';
import { Semaphore } from '../../src/semaphore/semaphore.js';
import { withTimeout } from '../../src/timeout.js';
import { deferred } from '../support/promises.js';

const listeners = (signal: AbortSignal) => getEventListeners(signal, 'abort').length;

let warnings: Error[] = [];
const onWarning = (warning: Error) => warnings.push(warning);
beforeEach(() => {
  warnings = [];
  process.on('warning', onWarning);
});
afterEach(() => {
  process.off('warning', onWarning);
});

/** Process warnings are emitted on a later tick. */
const warningsSoFar = async () => {
  await new Promise((resolve) => setImmediate(resolve));
  return warnings.map((w) => `${w.name}: ${w.message}`);
};

const N = 1_000;

test('a thousand parked waits of every kind on one signal: one listener, no warning, all settle with its reason', async () => {
  const controller = new AbortController();
  const { signal } = controller;
  const gate = deferred();

  const sem = new Semaphore(1);
  const held = await sem.acquire();
  const queue = new BoundedQueue<number>({ capacity: 1 });
  await queue.put(0);
  const empty = new BoundedQueue<number>({ capacity: 1 });
  const pool = new WorkerPool({ concurrency: 1, maxQueue: Infinity });
  const blocker = pool.run(() => gate.promise);

  const waits: Array<Promise<unknown>> = [];
  for (let i = 0; i < N; i++) {
    waits.push(sem.acquire({ signal }));
    waits.push(sem.run(() => i, { signal }));
    waits.push(queue.put(i, { signal }));
    waits.push(empty.get({ signal }));
    waits.push(pool.run(() => i, { signal })); // queued behind the blocker
    waits.push(withTimeout(() => gate.promise, undefined, { signal }));
  }
  // Running work bound to the signal too: a pool task that ignores it, and fan-outs in flight.
  const running = new WorkerPool({ concurrency: N });
  for (let i = 0; i < N; i++) waits.push(running.run(() => gate.promise, { signal }));
  for (let i = 0; i < 20; i++) waits.push(fanOut([1, 2], () => gate.promise, { window: 2, signal }));

  expect(listeners(signal)).toBe(1);
  expect(await warningsSoFar()).toEqual([]);

  const reason = new Error('client went away');
  controller.abort(reason);
  const outcomes = await Promise.allSettled(waits);
  expect(outcomes.every((o) => o.status === 'rejected' && o.reason === reason)).toBe(true);
  expect(listeners(signal)).toBe(0);
  expect(await warningsSoFar()).toEqual([]);

  held.release();
  gate.resolve();
  await blocker;
  await Promise.all([pool.shutdown(), running.shutdown(), queue.shutdown(), empty.shutdown()]);
});

test('the listener of a long-lived signal goes with the last wait that used it', async () => {
  const shutdown = new AbortController(); // lives as long as the service
  const sem = new Semaphore(1);
  const held = await sem.acquire();
  const waits = Array.from({ length: 50 }, () => sem.acquire({ signal: shutdown.signal }));
  expect(listeners(shutdown.signal)).toBe(1);
  held.release();
  for (const wait of waits) (await wait).release(); // each wait ends by its grant, none by the signal
  expect(listeners(shutdown.signal)).toBe(0);
  expect(await warningsSoFar()).toEqual([]);
});

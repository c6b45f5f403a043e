// One abort listener per signal (src/core/abort.ts): however many waits share a signal, it has one
// listener, the waits' hooks run once and in order on its abort, and a hook that left never runs.
import { getEventListeners } from 'node:events';
import { expect, test } from 'vitest';
import { offAbort, onAbort } from '../../src/core/abort.js';

const listeners = (signal: AbortSignal) => getEventListeners(signal, 'abort').length;

test('a thousand hooks on one signal add one listener, run once each in order, and leave none', () => {
  const controller = new AbortController();
  const ran: number[] = [];
  for (let i = 0; i < 1_000; i++) onAbort(controller.signal, () => ran.push(i));
  expect(listeners(controller.signal)).toBe(1);
  controller.abort();
  expect(ran).toEqual(Array.from({ length: 1_000 }, (_, i) => i));
  expect(listeners(controller.signal)).toBe(0);
});

test('a hook that left, or that an earlier hook removed, does not run; offAbort is idempotent', () => {
  const controller = new AbortController();
  const ran: string[] = [];
  const a = onAbort(controller.signal, () => {
    ran.push('a');
    offAbort(c); // e.g. serving the waiter behind it settled that one
  });
  const b = onAbort(controller.signal, () => ran.push('b'));
  const c = onAbort(controller.signal, () => ran.push('c'));
  onAbort(controller.signal, () => ran.push('d'));
  offAbort(b);
  offAbort(b);
  controller.abort();
  expect(ran).toEqual(['a', 'd']);
  offAbort(a); // after it ran: nothing happens
  offAbort(undefined);
});

test('the listener goes with the last hook and comes back with the next one', () => {
  const controller = new AbortController();
  const first = onAbort(controller.signal, () => {});
  const second = onAbort(controller.signal, () => {});
  offAbort(first);
  expect(listeners(controller.signal)).toBe(1);
  offAbort(second);
  expect(listeners(controller.signal)).toBe(0);
  let ran = false;
  onAbort(controller.signal, () => {
    ran = true;
  });
  expect(listeners(controller.signal)).toBe(1);
  controller.abort();
  expect(ran).toBe(true);
});

test('a signal already aborted takes no hook: its abort was dispatched, as for addEventListener', () => {
  const signal = AbortSignal.abort();
  let ran = false;
  expect(
    onAbort(signal, () => {
      ran = true;
    }),
  ).toBeUndefined();
  expect(listeners(signal)).toBe(0);
  expect(ran).toBe(false);
});

test('hooks on different signals are apart: one signal aborting runs only its own', () => {
  const one = new AbortController();
  const two = new AbortController();
  const ran: string[] = [];
  onAbort(one.signal, () => ran.push('one'));
  const other = onAbort(two.signal, () => ran.push('two'));
  one.abort();
  expect(ran).toEqual(['one']);
  expect(listeners(two.signal)).toBe(1);
  offAbort(other);
  expect(listeners(two.signal)).toBe(0);
});

test('a signal that takes no property still works: each hook gets a listener of its own', () => {
  const controller = new AbortController();
  Object.preventExtensions(controller.signal);
  const ran: number[] = [];
  const first = onAbort(controller.signal, () => ran.push(1));
  onAbort(controller.signal, () => ran.push(2));
  expect(listeners(controller.signal)).toBe(2);
  offAbort(first);
  expect(listeners(controller.signal)).toBe(1);
  controller.abort();
  expect(ran).toEqual([2]);
  expect(listeners(controller.signal)).toBe(0);
});

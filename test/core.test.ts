import { describe, expect, test } from 'vitest';
import * as check from '../src/core/validate.js';
import { failAll, park, Waiter, type WaitHost } from '../src/core/wait.js';
import { type Link, WaiterList } from '../src/core/waiters.js';

class Node implements Link {
  prev: Link | undefined;
  next: Link | undefined;
  linked = false;
  constructor(readonly id: number) {}
}

describe('WaiterList', () => {
  test('is FIFO and removes from the middle in O(1) without disturbing order', () => {
    const list = new WaiterList<Node>();
    const nodes = [1, 2, 3, 4, 5].map((id) => new Node(id));
    for (const n of nodes) list.push(n);
    expect(list.remove(nodes[2]!)).toBe(true);
    expect(list.remove(nodes[2]!)).toBe(false); // idempotent
    expect(list.remove(nodes[4]!)).toBe(true); // the tail
    expect([...list].map((n) => n.id)).toEqual([1, 2, 4]);
    expect(list.length).toBe(3);
    expect(list.shift()!.id).toBe(1);
    expect(list.drain().map((n) => n.id)).toEqual([2, 4]);
    expect([list.length, list.head, list.tail, list.shift()]).toEqual([0, undefined, undefined, undefined]);
    list.push(nodes[0]!); // a removed node can be pushed again
    expect([...list].map((n) => n.id)).toEqual([1]);
  });
});

describe('failAll', () => {
  test('rejects every parked waiter in FIFO order and disarms them', async () => {
    const host: WaitHost<Waiter<number>> = {
      waiters: new WaiterList<Waiter<number>>(),
      timeoutError: () => new Error('timeout'),
      onLeave: () => {},
    };
    const controller = new AbortController();
    const order: number[] = [];
    const parked = [0, 1, 2].map((i) =>
      park<number>(host, new Waiter<number>(), controller.signal, 60_000).catch((error: Error) => {
        order.push(i);
        return error.message;
      }),
    );
    let n = 0;
    failAll(host.waiters, () => new Error(`closed ${n++}`));
    expect(await Promise.all(parked)).toEqual(['closed 0', 'closed 1', 'closed 2']);
    expect(order).toEqual([0, 1, 2]);
    expect(host.waiters.length).toBe(0);
  });
});

describe('validate', () => {
  test('integerOrInfinity accepts Infinity and safe integers >= min only', () => {
    expect(check.integerOrInfinity(Number.POSITIVE_INFINITY, 'maxQueue', 0)).toBe(Number.POSITIVE_INFINITY);
    expect(check.integerOrInfinity(0, 'maxQueue', 0)).toBe(0);
    expect(() => check.integerOrInfinity(-1, 'maxQueue', 0)).toThrow(
      new RangeError('maxQueue must be an integer >= 0 or Infinity; received -1'),
    );
    expect(() => check.integerOrInfinity(0.5, 'maxQueue', 0)).toThrow(RangeError);
    expect(() => check.integerOrInfinity('1', 'maxQueue', 0)).toThrow(TypeError);
    expect(() => check.integer(-3, 'n', 0)).toThrow('n must be an integer >= 0; received -3');
  });

  test('boolean accepts booleans and undefined', () => {
    expect(check.boolean(true, 'drain')).toBe(true);
    expect(check.boolean(undefined, 'drain')).toBeUndefined();
    expect(() => check.boolean(1, 'options.drain')).toThrow(
      new TypeError('options.drain must be a boolean; received 1'),
    );
  });

  test('show renders every kind of value briefly', () => {
    expect(check.show(Symbol('s'))).toBe('Symbol(s)');
    expect(check.show(-0)).toBe('-0');
    expect(check.show(2n)).toBe('2n');
    expect(check.show('x'.repeat(50))).toBe(`"${'x'.repeat(40)}…"`);
    expect(check.show(() => {})).toBe('a function');
    expect(check.show(new Map())).toBe('an instance of Map');
    expect(check.show(Object.create(null))).toBe('an object');
  });
});

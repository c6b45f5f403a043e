// The FIFO every line of waiters is (src/core/waiters.ts): an intrusive doubly-linked list whose
// remove() takes a node out of the middle in O(1), so a waiter that gives up leaves the line at once.
import { describe, expect, test } from 'vitest';
import { type Link, WaiterList } from '../../src/core/waiters.js';

class Node implements Link {
  prev: Link | undefined;
  next: Link | undefined;
  linked = false;
  constructor(readonly id: number) {}
}

const ids = (list: WaiterList<Node>) => [...list].map((n) => n.id);

/** The ids walking back from the tail through `prev`: the same order reversed, if the links agree. */
function backwards(list: WaiterList<Node>): number[] {
  const out: number[] = [];
  for (let n: Link | undefined = list.tail; n !== undefined; n = n.prev) out.push((n as Node).id);
  return out;
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

  test('removing the head, a middle node and the tail keeps the rest in order, both ways', () => {
    const list = new WaiterList<Node>();
    const nodes = Array.from({ length: 7 }, (_, i) => new Node(i));
    for (const n of nodes) list.push(n);
    for (const i of [0, 3, 6, 4]) list.remove(nodes[i]!);
    expect(ids(list)).toEqual([1, 2, 5]);
    expect(backwards(list)).toEqual([5, 2, 1]);
    expect([list.head, list.tail, list.length]).toEqual([nodes[1], nodes[5], 3]);
    for (const i of [0, 3, 6, 4])
      expect(nodes[i]).toMatchObject({ prev: undefined, next: undefined, linked: false });
    list.push(nodes[3]!); // goes to the back, whatever its old place
    expect(ids(list)).toEqual([1, 2, 5, 3]);
    expect(backwards(list)).toEqual([3, 5, 2, 1]);
  });

  test('remove touches only the node and its two neighbours, however long the list', () => {
    const list = new WaiterList<Node>();
    const nodes = Array.from({ length: 10_000 }, (_, i) => new Node(i));
    for (const n of nodes) list.push(n);
    // Count every read and write of a link from here on.
    const touched = new Set<number>();
    for (const n of nodes) {
      for (const key of ['prev', 'next'] as const) {
        let value = n[key];
        Object.defineProperty(n, key, {
          get() {
            touched.add(n.id);
            return value;
          },
          set(v: Link | undefined) {
            touched.add(n.id);
            value = v;
          },
        });
      }
    }
    expect(list.remove(nodes[5_000]!)).toBe(true);
    expect([...touched].sort((a, b) => a - b)).toEqual([4_999, 5_000, 5_001]);
    expect(list.length).toBe(9_999);
    expect(nodes[4_999]!.next).toBe(nodes[5_001]);
    expect(nodes[5_001]!.prev).toBe(nodes[4_999]);
  });

  test('a node that is not in the list (served, or never pushed) is not removed and changes nothing', () => {
    const list = new WaiterList<Node>();
    const [a, b] = [new Node(1), new Node(2)];
    list.push(a);
    expect(list.remove(b)).toBe(false);
    expect(list.shift()).toBe(a);
    expect(list.remove(a)).toBe(false); // already served
    expect([list.length, list.head, list.tail]).toEqual([0, undefined, undefined]);
  });

  test('drain returns a snapshot: nodes pushed while it is settled are left in the list', () => {
    const list = new WaiterList<Node>();
    for (const id of [1, 2]) list.push(new Node(id));
    const drained = list.drain();
    for (const n of drained) list.push(new Node(n.id + 10)); // e.g. a rejected waiter that re-parks
    expect(drained.map((n) => n.id)).toEqual([1, 2]);
    expect(ids(list)).toEqual([11, 12]);
  });
});

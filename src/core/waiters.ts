// A FIFO of parked waiters as an intrusive doubly-linked list: O(1) push, shift and removal
// from the middle, so a waiter that is aborted or times out leaves the line at once
// (async-mutex's timed-out waiter kept its place in line; an array splice is O(n)).

/** A node of a {@link WaiterList}: the waiter object itself carries its links. */
export interface Link {
  prev: Link | undefined;
  next: Link | undefined;
  /** Whether the node is in a list now; makes `remove` idempotent. */
  linked: boolean;
}

export class WaiterList<T extends Link> {
  head: T | undefined = undefined;
  tail: T | undefined = undefined;
  length = 0;

  push(node: T): void {
    node.prev = this.tail;
    node.next = undefined;
    node.linked = true;
    if (this.tail === undefined) this.head = node;
    else this.tail.next = node;
    this.tail = node;
    this.length++;
  }

  shift(): T | undefined {
    const node = this.head;
    if (node !== undefined) this.remove(node);
    return node;
  }

  /** Unlinks `node`; returns false if it was not in the list (already served or removed). */
  remove(node: T): boolean {
    if (!node.linked) return false;
    const { prev, next } = node;
    if (prev === undefined) this.head = next as T | undefined;
    else prev.next = next;
    if (next === undefined) this.tail = prev as T | undefined;
    else next.prev = prev;
    node.prev = undefined;
    node.next = undefined;
    node.linked = false;
    this.length--;
    return true;
  }

  /** Removes every node and returns them in FIFO order (a snapshot, safe to settle while iterating). */
  drain(): T[] {
    const nodes: T[] = [];
    for (let node = this.shift(); node !== undefined; node = this.shift()) nodes.push(node);
    return nodes;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let node = this.head; node !== undefined; node = node.next as T | undefined) yield node;
  }
}

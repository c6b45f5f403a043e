// What a queue says about itself: how messages name it, the message of each error a wait ends with
// (naming the state that explains it: a QueueFullError says when an item was last taken), and what
// inspect() shows. Read on slow paths only, from the facts the queue hands over.
import { count } from '../core/count.js';
import { type Sample, sinceOf } from '../core/sample.js';
import type { Described } from '../core/track.js';
import { ClosedError, QueueFullError, TimeoutError } from '../errors.js';

/** How a queue is named in messages: `queue "jobs"`, or `queue` when it has no name. */
export function labelOf(name: string | undefined): string {
  return name === undefined ? 'queue' : `queue ${JSON.stringify(name)}`;
}

/** `'closed'`: no puts, gets drain what is left. `'shutdown'`: the items were dropped too. */
export type QueueState = 'open' | 'closed' | 'shutdown';

/** A line of parked callers, as inspect() lists it. */
interface Parked {
  readonly op: 'put' | 'get' | 'join';
  readonly waiters: {
    readonly length: number;
    [Symbol.iterator](): Iterator<{ readonly since: number; readonly timeout: number | undefined }>;
  };
}

/** @internal A queue's state, as its messages and its snapshot read it. */
export interface QueueFacts {
  readonly name: string | undefined;
  readonly capacity: number;
  readonly state: QueueState;
  /** Items queued now. */
  readonly queued: number;
  /** Items taken by a get and not yet marked done. */
  readonly taken: number;
  /** Items an immediate shutdown dropped. */
  readonly dropped: number;
  /** When an item was last taken (`Date.now()`), if ever. */
  readonly lastGet: number | undefined;
  /** When the queue was created (`Date.now()`). */
  readonly created: number;
  readonly putters: Parked;
  readonly getters: Parked;
  readonly joiners: Parked;
}

/** A put that found the queue full for `timeout` ms (`0`: at once); `parked`: it is one of the putters. */
export function fullError(q: QueueFacts, timeout: number, parked: boolean): QueueFullError {
  const others = q.putters.waiters.length - (parked ? 1 : 0);
  const ago =
    q.lastGet === undefined
      ? `no get since it was created ${Date.now() - q.created} ms ago`
      : `last get ${Date.now() - q.lastGet} ms ago`;
  return new QueueFullError(
    `${labelOf(q.name)} ${timeout === 0 ? 'is full' : `stayed full for ${timeout} ms`}; the item was not added ` +
      `(capacity ${q.capacity}, ${ago}${others > 0 ? `, ${count(others, 'other put')} waiting` : ''})`,
  );
}

/** A get that found the queue empty for `timeout` ms (`0`: at once). */
export function emptyError(q: QueueFacts, timeout: number): TimeoutError {
  const wait = timeout === 0 ? 'is empty' : `gave no item within ${timeout} ms`;
  return new TimeoutError(`${labelOf(q.name)} ${wait} (capacity ${q.capacity})`);
}

/** A join that found items unfinished for `timeout` ms (`0`: at once). */
export function joinError(q: QueueFacts, timeout: number): TimeoutError {
  const wait = timeout === 0 ? 'has' : `still had after ${timeout} ms`;
  return new TimeoutError(
    `${labelOf(q.name)} ${wait} ${count(q.queued + q.taken, 'unfinished item')} (${q.queued} queued, ${q.taken} taken without taskDone)`,
  );
}

/** A put refused by a closed queue, or a get that found it closed and drained. */
export function closedError(q: QueueFacts, call: 'put' | 'get'): ClosedError {
  const label = labelOf(q.name);
  switch (q.state) {
    case 'open':
    case 'closed':
      return new ClosedError(
        call === 'put' ? `${label} is closed; the item was not added` : `${label} is closed and drained`,
      );
    case 'shutdown':
      return new ClosedError(
        call === 'put'
          ? `${label} was shut down; the item was not added`
          : `${label} was shut down (${count(q.dropped, 'queued item')} dropped)`,
      );
  }
}

/** What `inspect()` shows: size, capacity, state, and every parked put, get and join (held weakly). */
export function queueSnapshot(q: QueueFacts, sample: Sample): Described {
  for (const line of [q.putters, q.getters, q.joiners]) {
    sample.take(line.waiters, sinceOf, (w) => ({
      key: w,
      what: line.op,
      since: w.since,
      timeout: w.timeout,
    }));
  }
  const putters = q.putters.waiters.length;
  const getters = q.getters.waiters.length;
  const joiners = q.joiners.waiters.length;
  const lastGet = q.lastGet === undefined ? 'no get yet' : `last get ${Date.now() - q.lastGet} ms ago`;
  const parts = [`${q.queued}/${q.capacity} queued`, `${q.taken} taken and not done`, lastGet];
  if (putters > 0) parts.push(count(putters, 'put') + ' waiting');
  if (getters > 0) parts.push(count(getters, 'get') + ' waiting');
  if (joiners > 0) parts.push(count(joiners, 'join') + ' waiting');
  if (q.state !== 'open') parts.push(q.state);
  return {
    kind: 'queue',
    name: q.name,
    summary: parts.join(', '),
    stats: {
      capacity: q.capacity,
      size: q.queued,
      taken: q.taken,
      state: q.state,
      lastGetMsAgo: q.lastGet === undefined ? undefined : Date.now() - q.lastGet,
      putters,
      getters,
      joiners,
    },
  };
}

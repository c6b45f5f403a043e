// The supervised consumer behind BoundedQueue.consume(): takes items through the queue's public
// get() and taskDone() only, runs at most `concurrency` handlers, reports their failures, and keeps
// a handler past its timeout counted until it settles (docs/hazards/abandoned-work-keeps-its-slot.md).

import { type AbortHook, isAbortOf, offAbort, onAbort } from '../core/abort.js';
import { runTrace, traceRun } from '../core/channels.js';
import { count } from '../core/count.js';
import { failureLine, reportFailure } from '../core/report.js';
import { clearTimer, startTimer, type Timer } from '../core/timer.js';
import * as check from '../core/validate.js';
import { bound } from '../core/wait.js';
import { ClosedError, TimeoutError } from '../errors.js';
import { labelOf } from './explain.js';
import { parseWait, type QueueWaitOptions } from './options.js';
import type { BoundedQueue } from './queue.js';

/**
 * Options of {@link BoundedQueue.consume}.
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { BoundedQueue, type ConsumeOptions } from 'unwedge';
 * const uploads = new BoundedQueue<string>({ capacity: 100, name: 'uploads' });
 * const stop = new AbortController(); // e.g. aborted on SIGTERM
 * const options: ConsumeOptions<string> = {
 *   concurrency: 2, // two uploads at a time
 *   timeout: 30_000, // a handler still running after 30 s is aborted and reported
 *   signal: stop.signal,
 *   onError: (error, file) => console.log(`${file}: ${(error as Error).message}`), // → b.txt: unreadable
 * };
 * const upload = async (file: string, signal: AbortSignal) => {
 *   if (file === 'b.txt') throw new Error('unreadable'); // reported; the consumer goes on
 *   await sleep(10, undefined, { signal });
 * };
 * const consumer = uploads.consume(upload, options);
 * for (const file of ['a.txt', 'b.txt', 'c.txt']) await uploads.put(file);
 * await uploads.join();
 * stop.abort();
 * await consumer.done;
 * ```
 */
export interface ConsumeOptions<T> {
  /** How many handlers run at once: a positive integer. Default 1. */
  concurrency?: number;
  /** Stops the consumer when aborted, as `stop()` does, with `signal.reason` as the handlers' abort reason. */
  signal?: AbortSignal;
  /**
   * A handler still running after this many ms (> 0) has its signal aborted and is reported as
   * failed; it keeps its place among the `concurrency` handlers until it settles.
   */
  timeout?: number;
  /** Receives each handler failure. Default: the queue's name and the error with its stack, on stderr. */
  onError?: (error: unknown, item: T) => void;
}

const CONSUME_KEYS = ['concurrency', 'signal', 'timeout', 'onError'] as const;

/**
 * A supervised consumer started by {@link BoundedQueue.consume}. Keep it: `stop()` is how a
 * shutdown ends the handlers still running.
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { BoundedQueue, type Consumer } from 'unwedge';
 * const jobs = new BoundedQueue<string>({ capacity: 10, name: 'jobs' });
 * const consumer: Consumer = jobs.consume((job, signal) => sleep(60_000, job, { signal })); // slow work
 * await jobs.put('job-1');
 * await jobs.put('job-2');
 * // ... on shutdown:
 * jobs.shutdown({ immediate: true }); // drop what is still queued
 * await consumer.stop({ timeout: 1_000 }); // abort the running handlers, wait until they settle
 * console.log(consumer.active, jobs.size); // → 0 0
 * ```
 */
export interface Consumer {
  /**
   * Stops taking items and aborts the running handlers' signals with a `ClosedError`, then waits
   * until they have settled: a handler that ignores its signal is waited for, as it still runs. The
   * wait ends early with a `TimeoutError` after `timeout` ms or with `signal.reason`; the consumer
   * stops either way.
   */
  stop(options?: QueueWaitOptions): Promise<void>;
  /**
   * Resolves once no handler runs any more and none will start: the queue was closed and drained,
   * or `stop()` / `signal` stopped the consumer. A handler that ignores its signal is waited for.
   * Never rejects.
   */
  readonly done: Promise<void>;
  /** Handlers running now, abandoned ones included: each holds one of the `concurrency` places. */
  readonly active: number;
  /** Running handlers whose signal was aborted (their `timeout`, `stop()`, `signal`) and that have not settled. */
  readonly abandoned: number;
}

/** `'draining'`: the queue is closed and drained, handlers still run. `'stopping'`: stop() aborted them. */
type ConsumerState = 'running' | 'draining' | 'stopping' | 'done';

/** @internal */
export class QueueConsumer<T> implements Consumer {
  readonly done: Promise<void>;
  private state: ConsumerState = 'running';
  /** Whether a get is outstanding (at most one: items are taken only when a handler slot is free). */
  private getting = false;
  private stopReason: unknown;
  private resolveDone!: () => void;
  private readonly stopper = new AbortController();
  private readonly getOptions: QueueWaitOptions = { signal: this.stopper.signal };
  /** The running handlers' controllers, abandoned ones included: their count is `active`. */
  private readonly running = new Set<AbortController>();
  private readonly concurrency: number;
  private readonly timeout: number | undefined;
  private readonly signal: AbortSignal | undefined;
  private readonly onError: ((error: unknown, item: T) => void) | undefined;
  /** Its place among the abort listeners of `signal`, until it is done. */
  private abortHook: AbortHook | undefined = undefined;

  /** Checks `options` first: a TypeError or RangeError names the bad one, and nothing has started. */
  constructor(
    /** @internal The queue it takes items from (a Lifecycle closes it to drain the consumer). */
    readonly queue: BoundedQueue<T>,
    private readonly handler: (item: T, signal: AbortSignal) => unknown,
    options: ConsumeOptions<T> | undefined,
  ) {
    const o = check.options<ConsumeOptions<T>>(options, CONSUME_KEYS);
    this.concurrency =
      o.concurrency === undefined ? 1 : check.integer(o.concurrency, 'options.concurrency', 1);
    this.signal = check.signal(o.signal, 'options.signal');
    this.timeout = check.timeout(o.timeout, 'options.timeout');
    if (this.timeout === 0)
      throw new RangeError('options.timeout must be a number of milliseconds > 0; received 0');
    this.onError =
      o.onError === undefined
        ? undefined
        : check.func<(error: unknown, item: T) => void>(o.onError, 'options.onError');
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
    const signal = this.signal;
    if (signal?.aborted) {
      this.#halt(signal.reason);
      return;
    }
    if (signal !== undefined) {
      this.abortHook = onAbort(signal, () => this.#halt(signal.reason));
    }
    this.#pump();
  }

  get active(): number {
    return this.running.size;
  }

  get abandoned(): number {
    let n = 0;
    for (const task of this.running) if (task.signal.aborted) n++;
    return n;
  }

  stop(options?: QueueWaitOptions): Promise<void> {
    let signal: AbortSignal | undefined;
    let timeout: number | undefined;
    try {
      ({ signal, timeout } = parseWait(options));
    } catch (error) {
      return Promise.reject(error);
    }
    this.#halt(new ClosedError(`${labelOf(this.queue.name)} consumer was stopped`));
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.state === 'done' || (signal === undefined && timeout === undefined)) return this.done;
    if (timeout === 0) return Promise.reject(this.#stopError(0));
    return bound(this.done, signal, timeout, () => this.#stopError(timeout as number));
  }

  /** Stops taking items and aborts the running handlers with `reason`. */
  #halt(reason: unknown): void {
    switch (this.state) {
      case 'running':
      case 'draining':
        this.state = 'stopping';
        this.stopReason = reason;
        this.stopper.abort(reason); // cancels the outstanding get
        for (const task of this.running) task.abort(reason);
        this.#settleIfIdle();
        return;
      case 'stopping':
      case 'done':
        return;
    }
  }

  #pump(): void {
    if (this.state !== 'running' || this.getting || this.running.size >= this.concurrency) return;
    this.getting = true;
    this.queue.get(this.getOptions).then(this.#onItem, this.#onNoItem);
  }

  readonly #onItem = (item: T): void => {
    this.getting = false;
    this.#run(item);
    this.#pump();
  };

  /** The get ended with `ClosedError` (closed and drained) or with the stop reason. */
  readonly #onNoItem = (): void => {
    this.getting = false;
    if (this.state === 'running') this.state = 'draining';
    this.#settleIfIdle();
  };

  #run(item: T): void {
    const task = new AbortController();
    this.running.add(task);
    // The get was served in the same tick as stop(): the item is taken, so the handler still sees it, cancelled.
    if (this.state === 'stopping') task.abort(this.stopReason);
    let result: unknown;
    try {
      result = runTrace.hasSubscribers
        ? traceRun('consumer', this.queue.name, item, task.signal, () => this.handler(item, task.signal))
        : this.handler(item, task.signal);
    } catch (error) {
      result = Promise.reject(error);
    }
    // A handler past its timeout is reported and its signal aborted at once, but it keeps its
    // place among the `concurrency` handlers (and its item stays unfinished for join()) until it
    // settles: `concurrency` limits what really runs, and `done` means nothing runs.
    let timer: Timer | undefined;
    if (this.timeout !== undefined) {
      timer = startTimer(() => {
        timer = undefined;
        if (task.signal.aborted) return; // stopped already: not a timeout of its own
        const reason = this.#handlerTimeoutError();
        task.abort(reason);
        this.#report(reason, item);
      }, this.timeout);
    }
    Promise.resolve(result).then(
      () => {
        if (timer !== undefined) clearTimer(timer);
        this.#finish(task, item, false, undefined);
      },
      (error: unknown) => {
        if (timer !== undefined) clearTimer(timer);
        this.#finish(task, item, true, error);
      },
    );
  }

  #finish(task: AbortController, item: T, failed: boolean, error: unknown): void {
    this.running.delete(task);
    try {
      this.queue.taskDone();
    } catch (misuse) {
      this.#report(misuse, item); // the handler called taskDone() itself as well
    }
    // A handler that gave up because we stopped it, or after its timeout was reported, did not fail (again).
    if (failed && !(task.signal.aborted && isAbortOf(error, task.signal.reason))) this.#report(error, item);
    this.#pump();
    this.#settleIfIdle();
  }

  #report(error: unknown, item: T): void {
    const onError = this.onError;
    const who = `${labelOf(this.queue.name)} consumer`;
    reportFailure(
      { kind: 'queue', name: this.queue.name, task: item, who },
      error,
      onError === undefined ? undefined : () => onError(error, item),
      () => failureLine(`${who}: handler failed`, error),
    );
  }

  #settleIfIdle(): void {
    if (this.state === 'running' || this.state === 'done' || this.running.size > 0 || this.getting) return;
    this.state = 'done';
    offAbort(this.abortHook);
    this.abortHook = undefined;
    this.resolveDone();
  }

  readonly #handlerTimeoutError = (): TimeoutError =>
    new TimeoutError(
      `${labelOf(this.queue.name)} consumer: handler still running after ${this.timeout} ms; its signal was aborted`,
    );

  #stopError(timeout: number): TimeoutError {
    return new TimeoutError(
      `${labelOf(this.queue.name)} consumer: ${count(this.running.size, 'handler')} still running ${timeout} ms after stop()`,
    );
  }
}

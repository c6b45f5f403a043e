// The seed-001 symptom: a synchronous call blocks the event loop, and nothing in the process can
// say so while it lasts: timers, I/O and process.stderr all wait for the loop. A worker thread can:
// it watches a heartbeat the main thread writes to shared memory, and writes to the file
// descriptor itself while the heartbeat is stale.

import { Worker } from 'node:worker_threads';
import { disposeSymbol } from '../core/compat.js';
import * as check from '../core/validate.js';

/**
 * A block of the event loop, as {@link watchEventLoop} reports it when the loop runs again.
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { type EventLoopBlock, watchEventLoop } from 'unwedge/inspect';
 * const blocks: EventLoopBlock[] = [];
 * const loop = watchEventLoop({ threshold: 100, fd: false, onBlock: (block) => blocks.push(block) });
 * await loop.ready;
 * const end = Date.now() + 300;
 * while (Date.now() < end); // a synchronous call that blocks the loop for 300 ms
 * await sleep(50); // the loop runs again: the block is reported
 * console.log(blocks.some((block) => block.duration >= 250)); // → true
 * await loop.stop();
 * ```
 */
export interface EventLoopBlock {
  /**
   * How long the loop was blocked, in ms: at least this long (the time between two heartbeats,
   * less the heartbeat period; the loop may have been idle for up to one period before it).
   */
  readonly duration: number;
  /** How many "and counting" lines the worker wrote while the block lasted. */
  readonly reportedLive: number;
  /** The watcher's `threshold`, in ms. */
  readonly threshold: number;
}

/**
 * Options of {@link watchEventLoop}.
 *
 * @example
 * ```ts
 * import { openSync, closeSync } from 'node:fs';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 * import { watchEventLoop, type WatchEventLoopOptions } from 'unwedge/inspect';
 * const log = openSync(join(tmpdir(), 'event-loop.log'), 'a');
 * const options: WatchEventLoopOptions = {
 *   threshold: 200, // a turn longer than 200 ms is a block
 *   repeat: 1_000, // while it lasts, a line every second
 *   fd: log, // written from the worker thread, while the main thread is stuck
 *   onBlock: (block) => console.error(`blocked for ${block.duration} ms`),
 * };
 * const loop = watchEventLoop(options);
 * await loop.stop();
 * closeSync(log);
 * ```
 */
export interface WatchEventLoopOptions {
  /** A turn of the event loop longer than this many ms (> 0) counts as a block. */
  threshold: number;
  /** While blocked, how often the worker repeats its line, in ms. Default: the threshold, at least 1,000. */
  repeat?: number;
  /**
   * Where the worker writes "blocked for N ms and counting" while the loop is blocked: a file
   * descriptor (written with `fs.writeSync` from the worker thread), or `false` for nowhere. Default 2 (stderr).
   */
  fd?: number | false;
  /** Called on the main thread when a block ends. Default: a summary line on stderr. */
  onBlock?: (block: EventLoopBlock) => void;
}

const WATCH_EVENT_LOOP_KEYS = ['threshold', 'repeat', 'fd', 'onBlock'] as const;

/**
 * A running {@link watchEventLoop}.
 *
 * @example
 * ```ts
 * import { type EventLoopWatcher, watchEventLoop } from 'unwedge/inspect';
 * const loop: EventLoopWatcher = watchEventLoop({ threshold: 200 });
 * await loop.ready; // the worker thread watches from now on
 * // ... at shutdown:
 * await loop.stop(); // the worker has exited
 * ```
 */
export interface EventLoopWatcher {
  /** Resolves once the worker watches (a block before that goes unreported live). */
  readonly ready: Promise<void>;
  /** Ends the worker and the heartbeat; resolves once the worker has exited. Idempotent. */
  stop(): Promise<void>;
  /** Same as `stop()` (without waiting for the exit), for `using loop = watchEventLoop(…)`. */
  [Symbol.dispose](): void;
}

// The worker: reads the main thread's heartbeat time from shared memory, and while it is older
// than the threshold writes straight to the file descriptor (console and process.stderr in a
// worker go through the main thread, which is the one that is stuck).
const WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const { buffer, threshold, repeat, fd, period, tick } = workerData;
const counts = new Int32Array(buffer, 0, 2);
const times = new Float64Array(buffer, 8, 1);
const wall = () => performance.timeOrigin + performance.now();
let blockedAt = 0;
let next = 0;
setInterval(() => {
  const beat = times[0];
  // Since the last heartbeat, less its period: the loop was idle, not blocked, for up to that long.
  const stale = wall() - beat - period;
  if (stale < threshold) { blockedAt = 0; return; }
  if (blockedAt !== beat) { blockedAt = beat; next = threshold; }
  if (stale < next) return;
  next = stale + repeat;
  Atomics.add(counts, 0, 1);
  if (fd !== false) {
    try { writeSync(fd, 'unwedge: event loop blocked for ' + Math.round(stale) + ' ms and counting\\n'); } catch {}
  }
}, tick);
parentPort.postMessage('ready');
`;

/**
 * Watches the event loop from a worker thread: when a turn of the loop takes longer than
 * `threshold` ms (a synchronous call blocking it), the worker writes "event loop blocked for N ms
 * and counting" to stderr while the block lasts, and when the loop runs again `onBlock` gets the
 * total. The worker and the heartbeat timer are unref'd: it never keeps the process alive.
 *
 * @example
 * ```ts
 * import { setTimeout as sleep } from 'node:timers/promises';
 * import { watchEventLoop } from 'unwedge/inspect';
 * const loop = watchEventLoop({ threshold: 200 });
 * await loop.ready;
 * const end = Date.now() + 500;
 * while (Date.now() < end); // e.g. a large JSON.parse or readFileSync
 * // stderr while it lasts: "unwedge: event loop blocked for … ms and counting"
 * await sleep(50); // the loop runs again: "unwedge: the event loop was blocked for … ms (threshold 200 ms)"
 * await loop.stop();
 * ```
 */
export function watchEventLoop(options: WatchEventLoopOptions): EventLoopWatcher {
  const o = check.options<WatchEventLoopOptions>(options, WATCH_EVENT_LOOP_KEYS);
  const threshold = check.duration(o.threshold, 'options.threshold');
  const repeat =
    o.repeat === undefined ? Math.max(threshold, 1_000) : check.duration(o.repeat, 'options.repeat');
  const fd = o.fd === undefined ? 2 : o.fd === false ? false : check.integer(o.fd, 'options.fd', 0);
  const onBlock =
    o.onBlock === undefined
      ? writeBlock
      : check.func<(block: EventLoopBlock) => void>(o.onBlock, 'options.onBlock');
  return new LoopWatch(threshold, repeat, fd, onBlock);
}

function writeBlock(block: EventLoopBlock): void {
  process.stderr.write(
    `unwedge: the event loop was blocked for ${block.duration} ms (threshold ${block.threshold} ms)\n`,
  );
}

const wall = (): number => performance.timeOrigin + performance.now();

class LoopWatch implements EventLoopWatcher {
  readonly ready: Promise<void>;
  private readonly worker: Worker;
  private readonly heartbeat: ReturnType<typeof setInterval>;
  private readonly counts: Int32Array;
  private readonly times: Float64Array;
  private readonly period: number;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly threshold: number,
    repeat: number,
    fd: number | false,
    private readonly onBlock: (block: EventLoopBlock) => void,
  ) {
    const buffer = new SharedArrayBuffer(16);
    this.counts = new Int32Array(buffer, 0, 2);
    this.times = new Float64Array(buffer, 8, 1);
    this.times[0] = wall();
    // Beat often enough that a healthy loop never looks stale, rarely enough to cost nothing.
    const period = Math.max(1, Math.min(threshold / 4, 50));
    this.period = period;
    // The worker first: if it cannot start (e.g. --experimental-permission without
    // --allow-worker), the caller gets the error and no heartbeat is left running.
    this.worker = new Worker(WORKER, {
      eval: true,
      workerData: { buffer, threshold, repeat, fd, period, tick: period },
      // Plain CommonJS, whatever flags the process runs with (--input-type=module, a loader).
      execArgv: [],
    });
    this.worker.unref();
    this.heartbeat = setInterval(() => this.beat(), period);
    this.heartbeat.unref();
    this.ready = new Promise((resolve) => {
      this.worker.once('message', () => resolve());
      this.worker.once('exit', () => resolve());
    });
    this.worker.on('error', (error) =>
      process.stderr.write(`unwedge: watchEventLoop worker failed: ${error}\n`),
    );
  }

  private beat(): void {
    const t = wall();
    const blocked = t - this.times[0]! - this.period;
    this.times[0] = t;
    if (blocked < this.threshold) return;
    const reportedLive = Atomics.exchange(this.counts, 0, 0);
    try {
      this.onBlock({ duration: Math.round(blocked), reportedLive, threshold: this.threshold });
    } catch (error) {
      process.stderr.write(`unwedge: watchEventLoop onBlock threw: ${String(error)}\n`);
    }
  }

  stop(): Promise<void> {
    if (this.stopping === undefined) {
      clearInterval(this.heartbeat);
      this.stopping = this.worker.terminate().then(
        () => undefined,
        () => undefined,
      );
    }
    return this.stopping;
  }

  [disposeSymbol](): void {
    void this.stop();
  }
}

// The parts of the inspector that need real time, a real GC or a process of their own: the
// event-loop watcher's worker thread, and primitives dropped from the dump once collected.
import { execFile } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { type EventLoopBlock, watchEventLoop } from '../../src/inspect/index.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Blocks the event loop for `ms`, calling `each` on every spin. */
function blockFor(ms: number, each: () => void): void {
  const started = Date.now();
  while (Date.now() - started < ms) each();
}

test('a synchronous 300 ms block is reported by the worker while it lasts, and summed up once it ends', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'unwedge-loop-'));
  const file = join(dir, 'live.log');
  const fd = openSync(file, 'w');
  let ended!: (block: EventLoopBlock) => void;
  const summary = new Promise<EventLoopBlock>((resolve) => {
    ended = resolve;
  });
  const watch = watchEventLoop({ threshold: 100, fd, onBlock: (block) => ended(block) });
  try {
    await watch.ready;
    let firstLineAt: number | undefined;
    const blockStarted = Date.now();
    blockFor(300, () => {
      if (firstLineAt === undefined && fstatSync(fd).size > 0) firstLineAt = Date.now();
    });
    // Still inside the block: nothing has yielded to the event loop since it began.
    const during = readFileSync(file, 'utf8');
    const blockEnded = Date.now();
    expect(during).toMatch(/^unwedge: event loop blocked for \d+ ms and counting\n$/);
    const reported = Number(/for (\d+) ms/.exec(during)![1]);
    expect(reported).toBeGreaterThanOrEqual(100);
    expect(reported).toBeLessThan(300);
    expect(firstLineAt).toBeDefined();
    expect(firstLineAt!).toBeLessThan(blockEnded);
    expect(firstLineAt! - blockStarted).toBeGreaterThanOrEqual(99); // not before the threshold (ms clock)

    const block = await summary;
    expect(block.threshold).toBe(100);
    expect(block.reportedLive).toBe(1);
    expect(block.duration).toBeGreaterThanOrEqual(270); // at least the block, less one heartbeat period
    expect(block.duration).toBeLessThan(1_000);
  } finally {
    await watch.stop();
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a long block repeats its line every `repeat` ms; short turns are not blocks', async () => {
  const lines: number[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'unwedge-loop-'));
  const fd = openSync(join(dir, 'live.log'), 'w');
  const blocks: EventLoopBlock[] = [];
  const watch = watchEventLoop({ threshold: 80, repeat: 100, fd, onBlock: (b) => blocks.push(b) });
  try {
    await watch.ready;
    for (let i = 0; i < 5; i++) {
      blockFor(10, () => {}); // well under the threshold
      await new Promise((resolve) => setImmediate(resolve));
    }
    blockFor(400, () => {});
    const text = readFileSync(join(dir, 'live.log'), 'utf8');
    for (const m of text.matchAll(/for (\d+) ms/g)) lines.push(Number(m[1]));
    expect(lines.length).toBeGreaterThanOrEqual(2); // at ~80 ms, then ~180, ~280, ...
    expect(lines.length).toBeLessThanOrEqual(4);
    for (let i = 1; i < lines.length; i++) expect(lines[i]! - lines[i - 1]!).toBeGreaterThanOrEqual(100);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(blocks).toHaveLength(1);
    // The worker may have written one more line between the end of the block and the heartbeat.
    const all = readFileSync(join(dir, 'live.log'), 'utf8').match(/and counting/g)!.length;
    expect(blocks[0]!.reportedLive).toBe(all);
  } finally {
    await watch.stop();
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stop() ends the worker and the heartbeat; it is idempotent, and dispose does the same', async () => {
  const baseline = process
    .getActiveResourcesInfo()
    .filter((r) => r !== 'Timeout')
    .sort();
  const watch = watchEventLoop({ threshold: 50, fd: false, onBlock: () => {} });
  await watch.ready;
  const stopped = watch.stop();
  expect(watch.stop()).toBe(stopped);
  await stopped; // resolves once the worker thread has exited
  const disposed = watchEventLoop({ threshold: 50, fd: false });
  disposed[Symbol.dispose]();
  await disposed.stop();
  expect(
    process
      .getActiveResourcesInfo()
      .filter((r) => r !== 'Timeout')
      .sort(),
  ).toEqual(baseline);
});

/** Collects what is written to stderr until `restore()`. */
function captureStderr(): { writes: string[]; restore(): void } {
  const writes: string[] = [];
  const original = process.stderr.write;
  process.stderr.write = ((chunk: string) => {
    writes.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  return { writes, restore: () => (process.stderr.write = original) };
}

test('the default summary goes to stderr', async () => {
  const { writes, restore } = captureStderr();
  const watch = watchEventLoop({ threshold: 60, fd: false });
  try {
    await watch.ready;
    blockFor(150, () => {});
    await new Promise((resolve) => setTimeout(resolve, 30));
  } finally {
    restore();
    await watch.stop();
  }
  expect(writes.join('')).toMatch(/unwedge: the event loop was blocked for \d+ ms \(threshold 60 ms\)\n/);
});

test('an onBlock that throws is reported on stderr', async () => {
  const { writes, restore } = captureStderr();
  const watch = watchEventLoop({
    threshold: 60,
    fd: false,
    onBlock: () => {
      throw new Error('hook broke');
    },
  });
  try {
    await watch.ready;
    blockFor(150, () => {});
    await new Promise((resolve) => setTimeout(resolve, 30));
  } finally {
    restore();
    await watch.stop();
  }
  expect(writes).toContain('unwedge: watchEventLoop onBlock threw: Error: hook broke\n');
});

test('watchEventLoop rejects bad options', () => {
  expect(() => watchEventLoop({} as { threshold: number })).toThrow(TypeError);
  expect(() => watchEventLoop({ threshold: -5 })).toThrow(RangeError);
  expect(() => watchEventLoop({ threshold: 10, repeat: 0 })).toThrow(RangeError);
  expect(() => watchEventLoop({ threshold: 10, fd: 1.5 })).toThrow(RangeError);
  expect(() => watchEventLoop({ threshold: 10, onBlock: 3 as unknown as () => void })).toThrow(TypeError);
});

test('a dropped primitive leaves the dump after GC, and running watchers never keep the process alive', async () => {
  // A process of its own, with --expose-gc: the primitives are dropped, collected, and gone from
  // inspect(); the watchers are never stopped, and the process still exits by itself.
  const script = `
    import { BoundedQueue } from './src/queue/queue.js';
    import { Semaphore } from './src/semaphore/semaphore.js';
    import { inspect, watchEventLoop, watchStalls } from './src/inspect/index.js';
    const names = () => inspect().primitives.map((p) => p.name).filter((n) => n?.startsWith('gc-'));
    let sem = new Semaphore(1, { name: 'gc-sem' });
    await sem.acquire();
    sem.acquire(); // a parked waiter, never settled
    let queue = new BoundedQueue({ capacity: 1, name: 'gc-queue' });
    await queue.put(1);
    queue.put(2); // a parked put, never settled
    const kept = new Semaphore(1, { name: 'gc-kept' });
    const before = names();
    sem = undefined;
    queue = undefined;
    // WeakRef targets stay alive until the current job ends: collect from a later one.
    await new Promise((resolve) => setTimeout(resolve, 0));
    globalThis.gc();
    await new Promise((resolve) => setTimeout(resolve, 0));
    globalThis.gc();
    const after = names();
    watchStalls({ threshold: 10 });
    await watchEventLoop({ threshold: 20, fd: false }).ready;
    console.log(JSON.stringify({ before, after, kept: kept.name, exiting: Date.now() }));
  `;
  const started = Date.now();
  const output = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script],
      { cwd: root, timeout: 30_000 },
      (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)),
    );
  });
  const result = JSON.parse(output.trim().split('\n').at(-1)!) as {
    before: string[];
    after: string[];
    kept: string;
    exiting: number;
  };
  expect(result.before.sort()).toEqual(['gc-kept', 'gc-queue', 'gc-sem']);
  expect(result.after).toEqual(['gc-kept']);
  expect(result.kept).toBe('gc-kept');
  expect(Date.now() - result.exiting).toBeLessThan(5_000); // exited by itself, soon after its last line
  expect(Date.now() - started).toBeLessThan(30_000);
});

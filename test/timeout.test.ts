import { execFile } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { TimeoutError, withTimeout } from '../src/index.js';
import { deferred, track } from './support/promises.js';

const flush = () => vi.advanceTimersByTimeAsync(0);

describe('withTimeout on fake time', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  test('resolves with the work and clears its timer at once', async () => {
    const work = deferred<string>();
    const result = track(withTimeout(work.promise, 1_000));
    expect(vi.getTimerCount()).toBe(1);
    work.resolve('ok');
    await flush();
    expect(result.value).toBe('ok');
    expect(vi.getTimerCount()).toBe(0);
  });

  test('passes the work rejection on', async () => {
    const boom = new Error('boom');
    await expect(withTimeout(Promise.reject(boom), 1_000)).rejects.toBe(boom);
    await expect(
      withTimeout(() => {
        throw boom;
      }, 1_000),
    ).rejects.toBe(boom);
    expect(vi.getTimerCount()).toBe(0);
  });

  test('rejects with TimeoutError after ms and aborts the signal the work received with it', async () => {
    let received: AbortSignal | undefined;
    const result = track(
      withTimeout(
        (signal) => {
          received = signal;
          return new Promise(() => {});
        },
        250,
        { name: 'db-connect' },
      ),
    );
    await vi.advanceTimersByTimeAsync(249);
    expect(result.status).toBe('pending');
    expect(received!.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(result.status).toBe('rejected');
    expect(result.reason).toBeInstanceOf(TimeoutError);
    expect((result.reason as Error).message).toBe('"db-connect" timed out after 250 ms');
    expect(received!.aborted).toBe(true);
    expect(received!.reason).toBe(result.reason);
  });

  test('an unnamed operation says "operation"', async () => {
    const result = track(withTimeout(new Promise(() => {}), 5));
    await vi.advanceTimersByTimeAsync(5);
    expect((result.reason as Error).message).toBe('operation timed out after 5 ms');
  });

  test("options.signal aborting rejects with exactly its reason and aborts the work's signal", async () => {
    const controller = new AbortController();
    let received: AbortSignal | undefined;
    const result = track(
      withTimeout(
        (signal) => {
          received = signal;
          return new Promise(() => {});
        },
        10_000,
        { signal: controller.signal },
      ),
    );
    const reason = { gone: true };
    controller.abort(reason);
    await flush();
    expect(result.reason).toBe(reason);
    expect(received!.reason).toBe(reason);
    expect(vi.getTimerCount()).toBe(0);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  test('the abort listener on options.signal is removed when the work settles', async () => {
    const controller = new AbortController();
    await withTimeout(async () => 1, 100, { signal: controller.signal });
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    await withTimeout(Promise.resolve(2), undefined, { signal: controller.signal });
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  test('an already-aborted signal rejects at once and the work function is never called', async () => {
    const reason = new Error('already');
    const fn = vi.fn(async () => 1);
    await expect(withTimeout(fn, 100, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(fn).not.toHaveBeenCalled();
    const late = deferred<number>();
    await expect(withTimeout(late.promise, 100, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    late.reject(new Error('late')); // consumed, not unhandled
    await flush();
  });

  test('ms 0 rejects at once without calling the work', async () => {
    const fn = vi.fn(async () => 1);
    await expect(withTimeout(fn, 0)).rejects.toBeInstanceOf(TimeoutError);
    expect(fn).not.toHaveBeenCalled();
    await expect(withTimeout(Promise.resolve(1), 0)).rejects.toThrow('operation timed out after 0 ms');
  });

  test('undefined and Infinity mean no limit', async () => {
    await expect(withTimeout(Promise.resolve(1), undefined)).resolves.toBe(1);
    const work = deferred<number>();
    const result = track(withTimeout(work.promise, Number.POSITIVE_INFINITY));
    expect(vi.getTimerCount()).toBe(0);
    work.resolve(2);
    await flush();
    expect(result.value).toBe(2);
  });

  test('a work promise that rejects after the timeout never becomes an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const work = deferred<number>();
      const result = track(withTimeout(work.promise, 10));
      await vi.advanceTimersByTimeAsync(10);
      expect(result.status).toBe('rejected');
      work.reject(new Error('too late'));
      // Unhandled rejections are reported between ticks: let several pass.
      for (let i = 0; i < 5; i++) await new Promise((resolve) => process.nextTick(resolve));
      await flush();
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  test('accepts a non-promise thenable and a function returning a plain value', async () => {
    // biome-ignore lint/suspicious/noThenProperty: a minimal thenable is exactly what this test needs.
    const thenable = { then: (resolve: (v: number) => void) => resolve(7) } as unknown as PromiseLike<number>;
    await expect(withTimeout(thenable, 100)).resolves.toBe(7);
    await expect(withTimeout(() => 8, 100)).resolves.toBe(8);
  });
});

test('a settled withTimeout does not keep the process alive', async () => {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const script = `
    import { withTimeout } from './src/index.ts';
    const started = Date.now();
    await withTimeout(Promise.resolve(1), 60_000);
    await withTimeout(async () => 2, 60_000);
    process.on('exit', () => console.log('exited after', Date.now() - started, 'ms'));
  `;
  const output = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      { cwd: root, timeout: 30_000 },
      (error, stdout) => (error ? reject(error) : resolve(stdout)),
    );
  });
  const ms = Number(/exited after (\d+) ms/.exec(output)?.[1]);
  expect(ms).toBeLessThan(10_000);
});

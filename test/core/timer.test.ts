// Timers that bound a wait (src/core/timer.ts). Node fires a setTimeout longer than 2^31-1 ms after
// 1 ms instead, so a long timeout would end a wait at once; startTimer re-arms it in steps.
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { clearTimer, startTimer } from '../../src/core/timer.js';

const MAX_DELAY = 2 ** 31 - 1;

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('startTimer', () => {
  test('calls fn once after ms milliseconds', async () => {
    const fn = vi.fn();
    startTimer(fn, 1_000);
    await vi.advanceTimersByTimeAsync(999);
    expect(fn).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(fn).toHaveBeenCalledTimes(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  test('a delay beyond 2^31-1 ms fires at its deadline, not after 1 ms, and keeps one timer at a time', async () => {
    const fn = vi.fn();
    const ms = 3 * MAX_DELAY + 5_000; // three re-arms
    startTimer(fn, ms);
    await vi.advanceTimersByTimeAsync(1);
    expect(fn).not.toHaveBeenCalled();
    for (let step = 1; step <= 3; step++) {
      await vi.advanceTimersByTimeAsync(MAX_DELAY);
      expect(fn).not.toHaveBeenCalled();
      expect(vi.getTimerCount()).toBe(1);
    }
    await vi.advanceTimersByTimeAsync(5_000 - 2); // 1 ms short of the deadline
    expect(fn).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(fn).toHaveBeenCalledTimes(1);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('clearTimer', () => {
  test('cancels a short timer', async () => {
    const fn = vi.fn();
    clearTimer(startTimer(fn, 10));
    await vi.advanceTimersByTimeAsync(100);
    expect(fn).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });

  test('cancels a long timer, also after it has re-armed', async () => {
    const fn = vi.fn();
    const timer = startTimer(fn, 2 * MAX_DELAY);
    await vi.advanceTimersByTimeAsync(MAX_DELAY + 10); // past the first step: re-armed
    expect(vi.getTimerCount()).toBe(1);
    clearTimer(timer);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(2 * MAX_DELAY);
    expect(fn).not.toHaveBeenCalled();
  });
});

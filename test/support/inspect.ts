// What the inspect tests share: finding one primitive's block in a report, and a turn of fake time.
import { afterEach, beforeEach, vi } from 'vitest';
import { configure, type InspectReport, inspect } from '../../src/inspect/index.js';

/** Lets every timer and microtask due now run (fake timers). */
export const flush = (): Promise<unknown> => vi.advanceTimersByTimeAsync(0);

/** The block of one primitive (tests name theirs uniquely: other tests' primitives may still be alive). */
export function find(kind: string, name?: string, report: InspectReport = inspect()) {
  return report.primitives.find((p) => p.kind === kind && p.name === name);
}

/**
 * Every test of the calling file runs on fake timers, and leaves the inspector as it found it:
 * origins and ages off, mocks restored, real timers back.
 */
export function onFakeTimeWithDefaults(): void {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    configure({ captureOrigins: false, recordAges: false });
    vi.restoreAllMocks();
    vi.useRealTimers();
  });
}

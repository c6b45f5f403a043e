// Timers that bound a wait. Node clamps any delay above 2^31-1 ms to 1 ms (with a warning), so a
// long timeout would fire at once; longer delays are re-armed in steps instead.

const MAX_DELAY = 2 ** 31 - 1;

class LongTimer {
  private handle: ReturnType<typeof setTimeout>;
  private readonly deadline: number;

  constructor(
    private readonly fn: () => void,
    ms: number,
  ) {
    this.deadline = Date.now() + ms;
    this.handle = setTimeout(this.step, MAX_DELAY);
  }

  private step = (): void => {
    const left = this.deadline - Date.now();
    if (left <= 0) this.fn();
    else this.handle = setTimeout(this.step, Math.min(left, MAX_DELAY));
  };

  clear(): void {
    clearTimeout(this.handle);
  }
}

export type Timer = ReturnType<typeof setTimeout> | LongTimer;

/** Calls `fn` after `ms` milliseconds, for any finite `ms` ≥ 0. */
export function startTimer(fn: () => void, ms: number): Timer {
  return ms <= MAX_DELAY ? setTimeout(fn, ms) : new LongTimer(fn, ms);
}

export function clearTimer(timer: Timer): void {
  if (timer instanceof LongTimer) timer.clear();
  else clearTimeout(timer);
}

// Finds what a test file leaves running. Timers are tracked one by one (vitest's own timers come
// and go while a file runs, so counting them is ambiguous); everything else — sockets, servers,
// child processes, workers — is counted by kind against a baseline.
import { promisify } from 'node:util';

export type ResourceCounts = Map<string, number>;

const TIMER_KINDS = new Set(['Timeout', 'Immediate']);
const liveTimers = new Set<NodeJS.Timeout>();

/** Wraps the global timer functions so that every timer started from here on is tracked. */
export function trackTimers(): void {
  const g = globalThis as unknown as Record<string, unknown> & { __unwedgeTracked?: boolean };
  if (g.__unwedgeTracked) return;
  g.__unwedgeTracked = true;
  const realSetTimeout = globalThis.setTimeout;
  const realSetInterval = globalThis.setInterval;
  const realClearTimeout = globalThis.clearTimeout;
  const realClearInterval = globalThis.clearInterval;
  const wrappedSetTimeout = (fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const timer: NodeJS.Timeout = realSetTimeout(
      (...a: unknown[]) => {
        liveTimers.delete(timer);
        fn(...a);
      },
      ms,
      ...args,
    );
    liveTimers.add(timer);
    return timer;
  };
  Object.defineProperty(wrappedSetTimeout, promisify.custom, {
    value: (realSetTimeout as unknown as Record<symbol, unknown>)[promisify.custom],
  });
  g.setTimeout = wrappedSetTimeout;
  g.setInterval = (fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const timer = realSetInterval(fn, ms, ...args);
    liveTimers.add(timer);
    return timer;
  };
  g.clearTimeout = (timer: NodeJS.Timeout | undefined) => {
    if (timer !== undefined) liveTimers.delete(timer);
    realClearTimeout(timer);
  };
  g.clearInterval = (timer: NodeJS.Timeout | undefined) => {
    if (timer !== undefined) liveTimers.delete(timer);
    realClearInterval(timer);
  };
}

export function activeResources(): ResourceCounts {
  const counts: ResourceCounts = new Map();
  for (const kind of process.getActiveResourcesInfo()) {
    if (!TIMER_KINDS.has(kind)) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  return counts;
}

/** What is active now beyond `baseline`: tracked timers that still hold the process, and other kinds. */
export function leakedSince(baseline: ResourceCounts): string[] {
  const leaked: string[] = [];
  const timers = [...liveTimers].filter((t) => t.hasRef()).length;
  if (timers > 0) leaked.push(`${timers} × Timeout`);
  for (const [kind, n] of activeResources()) {
    const extra = n - (baseline.get(kind) ?? 0);
    if (extra > 0) leaked.push(`${extra} × ${kind}`);
  }
  return leaked;
}

/** Forgets the timers tracked so far (each test file starts from none). */
export function resetTimers(): void {
  liveTimers.clear();
}

/**
 * Gives closing handles (a server's `close`, a socket's `destroy`) the event-loop turns they need
 * to go away, then returns whatever is still active beyond `baseline`. Bounded: at most `ms` ms.
 */
export async function settledLeaks(baseline: ResourceCounts, ms = 1_000): Promise<string[]> {
  const deadline = Date.now() + ms;
  let leaked = leakedSince(baseline);
  while (leaked.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setImmediate(resolve));
    leaked = leakedSince(baseline);
  }
  return leaked;
}

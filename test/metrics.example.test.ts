import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, expect, test } from 'vitest';
import {
  BURST,
  breakLine,
  CHUNKS,
  chosenLines,
  LIMITS,
  metricsStory,
  parseSamples,
  type Sample,
} from '../examples/metrics.js';
import { prometheusName } from '../scripts/otel-docs.mjs';
import type { WaitStartMessage } from '../src/core/channels.js';
import { METRICS } from '../src/otel/metrics.js';

const SEM = 'chunk-downloads';
const POOL = 'merge-requests';

/** The one sample of `name` whose labels include `labels`; fails if there is not exactly one. */
function value(samples: Sample[], name: string, labels: Record<string, string>): number {
  const found = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  expect(found, `${name} ${JSON.stringify(labels)}`).toHaveLength(1);
  return found[0]!.value;
}

let stopWatching: (() => void) | undefined;
afterEach(() => stopWatching?.());

test('seed 004 instrumented: /metrics, scraped over HTTP from the Prometheus exporter, moves as the burst did', async () => {
  // What parked, counted on the plain channel unwedge:wait:start (not the one the metrics come from).
  const parked = { semaphore: 0, pool: 0 };
  const onStart = (message: unknown) => {
    const m = message as WaitStartMessage;
    if (m.kind === 'semaphore' && m.name === SEM) parked.semaphore++;
    if (m.kind === 'pool' && m.name === POOL) parked.pool++;
  };
  subscribe('unwedge:wait:start', onStart);
  stopWatching = () => unsubscribe('unwedge:wait:start', onStart);

  const r = await metricsStory();
  stopWatching();

  // The burst: the pool runs 4, lines up 2 and refuses the rest at once.
  const refused = BURST - LIMITS.concurrency - LIMITS.maxQueue;
  expect(r.statuses.filter((s) => s === 200)).toHaveLength(LIMITS.concurrency + LIMITS.maxQueue);
  expect(r.statuses.filter((s) => s === 503)).toHaveLength(refused);

  // While the storage server held every answer: the semaphore at its limit, the rest parked.
  const during = parseSamples(r.during);
  const sem = { unwedge_kind: 'semaphore', unwedge_name: SEM };
  const pool = { unwedge_kind: 'pool', unwedge_name: POOL };
  expect(value(during, 'unwedge_semaphore_permits_limit', sem)).toBe(LIMITS.permits);
  expect(value(during, 'unwedge_semaphore_permits_used', sem)).toBe(LIMITS.permits);
  expect(value(during, 'unwedge_pool_tasks', { ...pool, unwedge_state: 'running' })).toBe(LIMITS.concurrency);
  expect(value(during, 'unwedge_pool_tasks', { ...pool, unwedge_state: 'queued' })).toBe(LIMITS.maxQueue);
  expect(value(during, 'unwedge_pool_tasks', { ...pool, unwedge_state: 'abandoned' })).toBe(0);
  // Each running request's fan-out wants `window` permits; what the semaphore cannot give is parked.
  expect(value(during, 'unwedge_waits', sem)).toBe(LIMITS.concurrency * LIMITS.window - LIMITS.permits);
  expect(value(during, 'unwedge_waits', pool)).toBe(LIMITS.maxQueue);
  // Nothing ended yet but the refusals.
  expect(during.filter((s) => s.name === 'unwedge_semaphore_wait_duration_count')).toEqual([]);
  expect(value(during, 'unwedge_rejections_total', { ...pool, error_type: 'QueueFullError' })).toBe(refused);

  // Once every request was answered.
  const after = parseSamples(r.after);
  const granted = { unwedge_outcome: 'granted' };
  expect(value(after, 'unwedge_semaphore_permits_used', sem)).toBe(0);
  expect(value(after, 'unwedge_waits', sem)).toBe(0);
  expect(value(after, 'unwedge_waits', pool)).toBe(0);
  // One histogram record per parked wait, every one of them granted; none for acquires granted at once.
  const semCount = value(after, 'unwedge_semaphore_wait_duration_count', { ...sem, ...granted });
  expect(semCount).toBe(parked.semaphore);
  expect(semCount).toBeGreaterThanOrEqual(LIMITS.concurrency * LIMITS.window - LIMITS.permits);
  expect(semCount).toBeLessThanOrEqual((LIMITS.concurrency + LIMITS.maxQueue) * CHUNKS - LIMITS.permits);
  const poolWait = { ...pool, unwedge_operation: 'run', ...granted };
  expect(value(after, 'unwedge_pool_wait_duration_count', poolWait)).toBe(LIMITS.maxQueue);
  expect(parked.pool).toBe(LIMITS.maxQueue);
  // The buckets are cumulative, end at the count, and cover 0.1 ms to 60 s.
  const buckets = after.filter(
    (s) => s.name === 'unwedge_semaphore_wait_duration_bucket' && s.labels.unwedge_name === SEM,
  );
  expect(buckets.map((b) => b.labels.le)).toEqual([
    ...['0.1', '0.25', '0.5', '1', '2.5', '5', '10', '25', '50', '100', '250', '500'],
    ...['1000', '2500', '5000', '10000', '30000', '60000', '+Inf'],
  ]);
  for (let i = 1; i < buckets.length; i++)
    expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
  expect(buckets.at(-1)!.value).toBe(semCount);
  // The lined-up requests waited for the storage server to answer: at least a chunk's time.
  expect(value(after, 'unwedge_pool_wait_duration_sum', poolWait)).toBeGreaterThan(0);
  const runs = { ...pool, unwedge_outcome: 'ok', unwedge_abandoned: 'false' };
  expect(value(after, 'unwedge_pool_task_duration_count', runs)).toBe(LIMITS.concurrency + LIMITS.maxQueue);
  expect(value(after, 'unwedge_rejections_total', { ...pool, error_type: 'QueueFullError' })).toBe(refused);
  // No timeouts, aborts or failures in this story.
  expect(after.filter((s) => /^unwedge_(timeouts|aborts|task_failures)_total$/.test(s.name))).toEqual([]);
  // fanOut's own waits are not metrics.
  expect(after.filter((s) => s.labels.unwedge_kind === 'fanOut')).toEqual([]);

  // Every unwedge family in the scrape is one of the table's, under the name docs/observability.md
  // gives it, with its instrument as the Prometheus type.
  const types = [...r.after.matchAll(/^# TYPE (unwedge_\w+) (\w+)$/gm)].map(([, name, type]) => [name, type]);
  expect(types.length).toBeGreaterThanOrEqual(8);
  const documented = new Map<string, string>(METRICS.map((m) => [prometheusName(m), m.instrument]));
  for (const [name, type] of types) expect([name, documented.get(name!)]).toEqual([name, type]);

  // The lines the demo prints are samples of the scrapes (less the exporter's otel_scope_* labels),
  // and fit in 100 columns once broken after commas.
  const shown = chosenLines(r);
  expect(shown.during).toHaveLength(6);
  expect(shown.after).toHaveLength(4);
  const unscoped = ({ name, labels, value }: Sample) => ({
    name,
    value,
    labels: Object.fromEntries(Object.entries(labels).filter(([k]) => !k.startsWith('otel_scope_'))),
  });
  for (const [lines, scrape] of [
    [shown.during, during],
    [shown.after, after],
  ] as const) {
    for (const line of lines) {
      const [sample] = parseSamples(line);
      expect(scrape.map(unscoped)).toContainEqual(sample);
      const parts = breakLine(line, 100);
      for (const part of parts) expect(part.length, part).toBeLessThanOrEqual(100);
      expect(parts.join('').replace(/\s+/g, '')).toBe(line.replace(/\s+/g, ''));
    }
  }
}, 30_000);

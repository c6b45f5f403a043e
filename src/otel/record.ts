// The histograms and counters: recorded from the TracingChannels `unwedge:wait` and `unwedge:run`
// (when each wait or run ends) and the channels `unwedge:refused`, `unwedge:task:error` and
// `unwedge:lease:lost`. Only the `asyncEnd` of each trace is listened to: it carries everything.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Counter, Histogram, Meter } from '@opentelemetry/api';
import {
  type LeaseLostMessage,
  leaseLost,
  type RefusedMessage,
  type RunTrace,
  refused,
  runTrace,
  type TaskErrorMessage,
  taskError,
  type WaitTrace,
  waitTrace,
} from '../core/channels.js';
import { AttributeCache, errorType, operationOf } from './attributes.js';
import { DURATION_BUCKETS_MS, METRICS } from './metrics.js';

/** The histogram of each wait kind; kinds not here (withTimeout, fanOut) are not admissions. */
const WAIT_HISTOGRAMS: Record<string, string> = {
  semaphore: 'unwedge.semaphore.wait.duration',
  'redis-semaphore': 'unwedge.semaphore.wait.duration',
  queue: 'unwedge.queue.wait.duration',
  pool: 'unwedge.pool.wait.duration',
};
/** The histogram of each run kind. */
const RUN_HISTOGRAMS: Record<string, string> = {
  pool: 'unwedge.pool.task.duration',
  registry: 'unwedge.registry.task.duration',
  consumer: 'unwedge.consumer.handler.duration',
};
/** Per-call work: its wait is the call itself, not an admission, and its failure is its function's. */
const CALLS = new Set(['withTimeout', 'fanOut']);

/** Creates the histograms and counters of {@link METRICS} on `meter` and records them; returns the stop. */
export function recordMetrics(meter: Meter): () => void {
  const histograms = new Map<string, Histogram>();
  const counters = new Map<string, Counter>();
  for (const m of METRICS) {
    const common = { unit: m.unit, description: m.description };
    if (m.instrument === 'histogram') {
      const advice = { explicitBucketBoundaries: [...DURATION_BUCKETS_MS] };
      histograms.set(m.name, meter.createHistogram(m.name, { ...common, advice }));
    } else if (m.instrument === 'counter') {
      counters.set(m.name, meter.createCounter(m.name, common));
    }
  }
  const counter = (name: string) => counters.get(name)!;
  const timeouts = counter('unwedge.timeouts');
  const aborts = counter('unwedge.aborts');
  const rejections = counter('unwedge.rejections');
  const failures = counter('unwedge.task.failures');
  const deadlocks = counter('unwedge.deadlocks');
  const lost = counter('unwedge.leases.lost');

  const waitAttrs = new AttributeCache('unwedge.operation', 'unwedge.outcome');
  const semaphoreAttrs = new AttributeCache('unwedge.outcome');
  const runAttrs = new AttributeCache('unwedge.outcome', 'unwedge.abandoned');
  const phaseAttrs = new AttributeCache('unwedge.phase');
  const errorAttrs = new AttributeCache('error.type');
  const plainAttrs = new AttributeCache();

  /** A rejection counted once: from the wait it ended, or from `unwedge:refused` when there was none. */
  const rejected = (kind: string, name: string | undefined, type: string | undefined) => {
    if (type !== 'QueueFullError' && type !== 'ClosedError' && type !== 'DeadlockError') return;
    rejections.add(1, errorAttrs.get(kind, name, type));
    if (type === 'DeadlockError') deadlocks.add(1, plainAttrs.get(kind, name));
  };

  const onWaitEnd = (message: unknown) => {
    const w = message as WaitTrace;
    const outcome = w.outcome!;
    const histogram = WAIT_HISTOGRAMS[w.kind];
    if (histogram !== undefined) {
      const attributes =
        histogram === 'unwedge.semaphore.wait.duration'
          ? semaphoreAttrs.get(w.kind, w.name, outcome)
          : waitAttrs.get(w.kind, w.name, operationOf(w.what), outcome);
      histograms.get(histogram)!.record(w.duration!, attributes);
    }
    // withTimeout and fanOut calls count here too (their timeout is the one a caller set on the
    // work, the most common timeout of all), told apart by `unwedge.kind`; not in the histograms.
    if (outcome === 'granted') return;
    if (outcome === 'timeout') timeouts.add(1, phaseAttrs.get(w.kind, w.name, 'wait'));
    else if (outcome === 'aborted') aborts.add(1, phaseAttrs.get(w.kind, w.name, 'wait'));
    // Also after a timeout: a put that timed out on a full queue is a QueueFullError, a rejection
    // too. A withTimeout or fanOut call failing with a ClosedError passes on its function's: the
    // primitive that refused counted it already.
    if (!CALLS.has(w.kind)) rejected(w.kind, w.name, errorType(w.error));
  };

  const onRunEnd = (message: unknown) => {
    const r = message as RunTrace;
    const histogram = RUN_HISTOGRAMS[r.kind];
    if (histogram !== undefined)
      histograms.get(histogram)!.record(r.duration!, runAttrs.get(r.kind, r.name, r.outcome, r.abandoned));
    if (!r.abandoned) return;
    // Abandoned by its run timeout: a timeout; by shutdown or close (a ClosedError): neither, the
    // shutdown is the story; by anything else (the caller's signal): an abort.
    const type = errorType(r.reason);
    if (type === 'TimeoutError') timeouts.add(1, phaseAttrs.get(r.kind, r.name, 'run'));
    else if (type !== 'ClosedError') aborts.add(1, phaseAttrs.get(r.kind, r.name, 'run'));
  };

  const onRefused = (message: unknown) => {
    const m = message as RefusedMessage;
    rejected(m.kind, m.name, errorType(m.error));
  };
  const onTaskError = (message: unknown) => {
    const m = message as TaskErrorMessage;
    // A queue's reported failures are its consumer's handlers': counted under the kind their runs
    // have (`consumer`), so that the failures and unwedge.consumer.handler.duration share labels.
    failures.add(1, plainAttrs.get(m.kind === 'queue' ? 'consumer' : m.kind, m.name));
  };
  const onLeaseLost = (message: unknown) => {
    const m = message as LeaseLostMessage;
    lost.add(1, plainAttrs.get(m.kind, m.name));
  };

  const subscriptions: Array<[string, (message: unknown, name: string | symbol) => void]> = [
    [waitTrace.asyncEnd.name as string, onWaitEnd],
    [runTrace.asyncEnd.name as string, onRunEnd],
    [refused.name as string, onRefused],
    [taskError.name as string, onTaskError],
    [leaseLost.name as string, onLeaseLost],
  ];
  for (const [name, fn] of subscriptions) subscribe(name, fn);
  return () => {
    for (const [name, fn] of subscriptions) unsubscribe(name, fn);
  };
}

// The metrics `unwedge/otel` records: one table, read by the instrumentation (what to create) and by
// the script that writes the table of docs/observability.md (what to document), so the two never
// differ. Names follow OpenTelemetry's semantic-convention style: `unwedge.<primitive>.<what>`,
// durations in ms (bucket boundaries from 0.1 ms to 60 s), counts with `{unit}` annotations.
// Every series carries `unwedge.kind` and `unwedge.name` (the primitive's name; unnamed ones share
// one series per kind, never one per instance).

/** @internal How a metric is recorded. */
export type Instrument = 'gauge' | 'histogram' | 'counter';

/** @internal One metric of `unwedge/otel`. */
export interface MetricDefinition {
  /** Its OpenTelemetry name, e.g. `unwedge.semaphore.wait.duration`. */
  readonly name: string;
  readonly instrument: Instrument;
  /** UCUM: `ms`, or a `{annotation}` for a count. */
  readonly unit: string;
  /** Attributes beyond `unwedge.kind` and `unwedge.name`, each with what it can be. */
  readonly attributes: Readonly<Record<string, string>>;
  /** What it measures (its OpenTelemetry description). */
  readonly description: string;
  /** What it tells an on-call engineer. */
  readonly tells: string;
}

/** @internal Histogram bucket boundaries (ms) for every duration: 0.1 ms to 60 s, about 2.5x apart. */
export const DURATION_BUCKETS_MS: readonly number[] = [
  0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000,
];

const outcome = { 'unwedge.outcome': '`granted`, `timeout`, `aborted`, `closed`, `failed`' };
const runOutcome = {
  'unwedge.outcome': '`ok`, `failed`, `aborted` (gave up on its own abort)',
  'unwedge.abandoned': '`true` when its caller was answered before it ended (timeout, abort, shutdown)',
};

/** @internal Every metric `instrument()` records, in the order docs/observability.md lists them. */
export const METRICS: readonly MetricDefinition[] = [
  // --- gauges: read from each live primitive when the reader collects -------------------------
  {
    name: 'unwedge.semaphore.permits.used',
    instrument: 'gauge',
    unit: '{permit}',
    attributes: {},
    description: 'Permits held now (Semaphore, RedisSemaphore: this instance’s view).',
    tells: 'At the limit for long: the shared resource is saturated or holders are stuck.',
  },
  {
    name: 'unwedge.semaphore.permits.limit',
    instrument: 'gauge',
    unit: '{permit}',
    attributes: {},
    description: 'Permits in all.',
    tells: 'The line `used` is compared with.',
  },
  {
    name: 'unwedge.queue.size',
    instrument: 'gauge',
    unit: '{item}',
    attributes: {},
    description: 'Items queued now (BoundedQueue).',
    tells: 'Equal to capacity for long: the consumer is slow, stuck or dead; puts are waiting or refused.',
  },
  {
    name: 'unwedge.queue.capacity',
    instrument: 'gauge',
    unit: '{item}',
    attributes: {},
    description: 'The queue’s capacity.',
    tells: 'The line `size` is compared with.',
  },
  {
    name: 'unwedge.pool.tasks',
    instrument: 'gauge',
    unit: '{task}',
    attributes: {
      'unwedge.state': '`running`, `queued`, `abandoned` (running, its caller already answered)',
    },
    description: 'Tasks of a pool (WorkerPool and the fronts) by state.',
    tells: 'Abandoned tasks that do not go down are tasks ignoring their signal, each holding a slot.',
  },
  {
    name: 'unwedge.registry.tasks',
    instrument: 'gauge',
    unit: '{task}',
    attributes: {},
    description: 'Background tasks running in a TaskRegistry.',
    tells: 'A count that only grows is a task leak (a spawn per request that never ends).',
  },
  {
    name: 'unwedge.waits',
    instrument: 'gauge',
    unit: '{wait}',
    attributes: {},
    description: 'Callers parked now, waiting for admission (acquire, put, get, queued run, join).',
    tells: 'Waits that pile up while the primitive is at its limit: where the service is queueing.',
  },
  // --- histograms: one record per ended wait or run ------------------------------------------
  {
    name: 'unwedge.semaphore.wait.duration',
    instrument: 'histogram',
    unit: 'ms',
    attributes: outcome,
    description: 'Time a parked acquire waited for its permits (Semaphore, RedisSemaphore).',
    tells: 'p99 over the caller’s own timeout budget: the limit is too tight or holders too slow.',
  },
  {
    name: 'unwedge.queue.wait.duration',
    instrument: 'histogram',
    unit: 'ms',
    attributes: { 'unwedge.operation': '`put`, `get`, `join`', ...outcome },
    description: 'Time a parked put (queue full), get (queue empty) or join waited.',
    tells: 'Long puts: the consumer falls behind. Long gets: nothing to do (normal for an idle consumer).',
  },
  {
    name: 'unwedge.pool.wait.duration',
    instrument: 'histogram',
    unit: 'ms',
    attributes: { 'unwedge.operation': '`run` (queued for a slot), `idle`', ...outcome },
    description: 'Time a queued run waited for a slot (or an idle() waited).',
    tells: 'Time added to every request that uses the pool: alert on its p99.',
  },
  {
    name: 'unwedge.pool.task.duration',
    instrument: 'histogram',
    unit: 'ms',
    attributes: runOutcome,
    description: 'Time a pool task ran, until it really settled (abandoned ones included).',
    tells: 'Abandoned runs far longer than the timeout: tasks that ignore their signal.',
  },
  {
    name: 'unwedge.registry.task.duration',
    instrument: 'histogram',
    unit: 'ms',
    attributes: runOutcome,
    description: 'Time a TaskRegistry task ran.',
    tells: 'Background work that ends much sooner than expected is crashing and being restarted.',
  },
  {
    name: 'unwedge.consumer.handler.duration',
    instrument: 'histogram',
    unit: 'ms',
    attributes: runOutcome,
    description: 'Time a queue consumer’s handler ran for one item.',
    tells: 'Handler time × rate over concurrency near 1: the consumer cannot keep up.',
  },
  // --- counters -------------------------------------------------------------------------------
  {
    name: 'unwedge.timeouts',
    instrument: 'counter',
    unit: '{timeout}',
    attributes: { 'unwedge.phase': '`wait` (admission), `run` (a task past its timeout)' },
    description: 'Waits and task runs ended by their timeout.',
    tells: 'A rise is the first sign of saturation downstream.',
  },
  {
    name: 'unwedge.aborts',
    instrument: 'counter',
    unit: '{abort}',
    attributes: { 'unwedge.phase': '`wait`, `run`' },
    description: 'Waits and task runs ended by their caller’s signal.',
    tells: 'Callers giving up (clients disconnecting, request deadlines).',
  },
  {
    name: 'unwedge.rejections',
    instrument: 'counter',
    unit: '{call}',
    attributes: { 'error.type': '`QueueFullError`, `ClosedError`, `DeadlockError`' },
    description:
      'Calls rejected with a full line, a closed primitive or a deadlock, at once or after waiting.',
    tells: 'QueueFullError: load shed (503s). ClosedError outside a shutdown: a primitive closed too early.',
  },
  {
    name: 'unwedge.task.failures',
    instrument: 'counter',
    unit: '{failure}',
    attributes: {},
    description:
      'Task failures reported because nobody awaited them (pool, registry, consumer, Redis release).',
    tells: 'Every one is also on stderr or your onError: a rise is a bug in background work.',
  },
  {
    name: 'unwedge.deadlocks',
    instrument: 'counter',
    unit: '{wait}',
    attributes: {},
    description: 'Waits rejected with DeadlockError (a holder waiting for its own semaphore).',
    tells: 'Always a bug: nested acquires of one semaphore. The error names the holders.',
  },
  {
    name: 'unwedge.leases.lost',
    instrument: 'counter',
    unit: '{permit}',
    attributes: {},
    description: 'RedisSemaphore permits whose lease was lost (their signal aborted with LeaseLostError).',
    tells: 'Redis unreachable or slow, or this process paused longer than leaseMs.',
  },
];

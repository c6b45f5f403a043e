// The gauges: one batch callback that, each time a reader collects, walks the live primitives once
// (core/live.ts, what `inspect()` lists) and observes their figures summed per (kind, name).
// Unnamed primitives join that list at their first wait (see Semaphore's `list`): one never waited
// on is idle, and shows in no gauge until it is.
import type { Attributes, BatchObservableResult, Meter, Observable } from '@opentelemetry/api';
import { snapshots } from '../core/live.js';
import type { PrimitiveSnapshot } from '../core/track.js';
import { AttributeCache } from './attributes.js';
import { METRICS } from './metrics.js';

type Stats = PrimitiveSnapshot['stats'];
const num = (stats: Stats, key: string): number => {
  const value = stats[key];
  return typeof value === 'number' ? value : 0;
};

/** Each gauge's figures of one primitive: `[gauge, own attribute value, figure]`. */
function figures(p: PrimitiveSnapshot): Array<[string, string | undefined, number]> {
  const s = p.stats;
  switch (p.kind) {
    case 'semaphore':
      return [
        ['unwedge.semaphore.permits.used', undefined, num(s, 'inUse')],
        ['unwedge.semaphore.permits.limit', undefined, num(s, 'permits')],
        ['unwedge.waits', undefined, num(s, 'waiting')],
      ];
    case 'redis-semaphore':
      return [
        ['unwedge.semaphore.permits.used', undefined, num(s, 'held')],
        ['unwedge.semaphore.permits.limit', undefined, num(s, 'permits')],
        ['unwedge.waits', undefined, num(s, 'waiting')],
      ];
    case 'queue':
      return [
        ['unwedge.queue.size', undefined, num(s, 'size')],
        ['unwedge.queue.capacity', undefined, num(s, 'capacity')],
        ['unwedge.waits', undefined, num(s, 'putters') + num(s, 'getters') + num(s, 'joiners')],
      ];
    case 'pool': {
      const abandoned = num(s, 'abandoned');
      return [
        ['unwedge.pool.tasks', 'running', num(s, 'active') - abandoned],
        ['unwedge.pool.tasks', 'queued', num(s, 'queued')],
        ['unwedge.pool.tasks', 'abandoned', abandoned],
        // The queued runs; a pool's stats do not count its idle() and shutdown() waiters apart.
        ['unwedge.waits', undefined, num(s, 'queued')],
      ];
    }
    case 'registry':
      return [['unwedge.registry.tasks', undefined, num(s, 'tasks')]];
    default:
      // withTimeout and fanOut calls: not primitives, no gauge.
      return [];
  }
}

/** Creates the gauges of {@link METRICS} on `meter` with one batch callback; returns the stop. */
export function observeGauges(meter: Meter): () => void {
  const gauges = new Map<string, Observable>();
  for (const m of METRICS) {
    if (m.instrument !== 'gauge') continue;
    gauges.set(m.name, meter.createObservableGauge(m.name, { unit: m.unit, description: m.description }));
  }
  const plain = new AttributeCache();
  const byState = new AttributeCache('unwedge.state');

  const callback = (result: BatchObservableResult) => {
    const sums = new Map<string, Map<Attributes, number>>();
    // limit 0: no wait is described, each is only counted; the stats are what the gauges read.
    for (const p of snapshots({ limit: 0 })) {
      for (const [gauge, state, value] of figures(p)) {
        const attributes =
          state === undefined ? plain.get(p.kind, p.name) : byState.get(p.kind, p.name, state);
        let series = sums.get(gauge);
        if (series === undefined) {
          series = new Map();
          sums.set(gauge, series);
        }
        series.set(attributes, (series.get(attributes) ?? 0) + value);
      }
    }
    for (const [gauge, series] of sums) {
      const observable = gauges.get(gauge)!;
      for (const [attributes, value] of series) result.observe(observable, value, attributes);
    }
  };
  const observables = [...gauges.values()];
  meter.addBatchObservableCallback(callback, observables);
  return () => meter.removeBatchObservableCallback(callback, observables);
}

// The live set: the primitives the inspector can list (held through WeakRefs) and the per-call
// work (a fanOut call, a withTimeout call) linked into a list only while it runs.
import { enders, notifyEnded, publishEnd, publishStart, watchingWaits } from './channels.js';
import { count } from './count.js';
import { recordOrigin } from './origins.js';
import { type Redact, Sample, sinceOf } from './sample.js';
import {
  type Call,
  type Described,
  type Entry,
  flags,
  now,
  type PrimitiveSnapshot,
  shared,
  type WaitOutcome,
} from './track.js';

const live = shared.live;
const calls = shared.calls;
// Calls that may be dropped unfinished (an async iterator its consumer let go of without return()).
const weakCalls = shared.weakCalls;
const droppedCalls = new FinalizationRegistry<WeakRef<Call>>((ref) => weakCalls.delete(ref));

/**
 * Makes a long-lived primitive known to the inspector without keeping it alive. `describe` must
 * not close over `primitive` (pass a static function): it is called with it at each snapshot.
 * Returns a token for {@link unregister}.
 */
export function register<P extends object>(
  primitive: P,
  describe: (primitive: P, sample: Sample) => Described,
): object {
  const entry: Entry = { ref: new WeakRef(primitive), describe };
  // No FinalizationRegistry: registering there cost ~0.4 µs a primitive, four times the WeakRef.
  // Entries of collected primitives are swept instead once the list doubles: O(1) amortized,
  // and the list stays within twice the primitives alive at the last sweep (and at least 1,024).
  if (live.push(entry) >= shared.sweepAt) sweep();
  return entry;
}

/** Forgets a primitive registered with {@link register} before it is collected. */
export function unregister(token: object): void {
  (token as Entry).ref = undefined;
}

/** Drops the entries of collected or unregistered primitives, keeping the order. */
function sweep(): void {
  let kept = 0;
  for (const entry of live) if (entry.ref?.deref() !== undefined) live[kept++] = entry;
  live.length = kept;
  shared.sweepAt = Math.max(1_024, kept * 2);
}

/**
 * Lists a running call until {@link endCall}; `weakly`, without keeping it alive. Stamps its start
 * (and origin, above the frame of `above`) when timing is on.
 */
export function startCall(call: Call, above?: Function, weakly = false): void {
  if (flags.timing) {
    call.since = now();
    recordOrigin(call, above);
  }
  if (weakly) {
    call.weak = new WeakRef(call);
    weakCalls.add(call.weak);
    droppedCalls.register(call, call.weak, call.weak);
  } else {
    calls.push(call);
  }
  if (watchingWaits()) {
    const { what, timeout } = call.describeCall();
    publishStart(call, { kind: call.kind, name: undefined, what, timeout });
  }
}

/**
 * The call settled: drop it from the list, and tell subscribers and a stall watcher. `reason`:
 * what it rejected with, when it did.
 */
export function endCall(call: Call, outcome: WaitOutcome, reason?: unknown): void {
  if (call.weak === undefined) {
    calls.remove(call);
  } else {
    weakCalls.delete(call.weak);
    droppedCalls.unregister(call.weak);
  }
  publishEnd(call, outcome, reason);
  if (enders.size > 0) notifyEnded(call, outcome);
}

/** How a snapshot is taken: see {@link Sample}. */
export interface SnapshotOptions {
  /** At most this many waits described per primitive (and per kind of call); the rest counted. */
  readonly limit: number;
  readonly redact?: Redact | undefined;
  /** Count the omitted waits at least this many ms old (`Omitted.over`). */
  readonly overAge?: number;
}

/**
 * The snapshot of one registered primitive, as {@link snapshots} takes it; `undefined` when it is
 * not listed (never registered, unregistered or collected). O(primitives listed).
 */
export function snapshotOf(primitive: object, options: SnapshotOptions): PrimitiveSnapshot | undefined {
  for (const entry of live) {
    if (entry.ref?.deref() !== primitive) continue;
    const s = new Sample(options.limit, now(), options.redact, options.overAge);
    const described = (entry.describe as (p: object, sample: Sample) => Described)(primitive, s);
    return { ...described, waits: s.waits(), omitted: s.omitted() };
  }
  return undefined;
}

/**
 * Snapshots of every live primitive, and the running calls grouped by kind: O(primitives x limit)
 * objects, plus one number read per wait beyond the limit.
 */
export function snapshots(options: SnapshotOptions): PrimitiveSnapshot[] {
  const t = now();
  const sample = () => new Sample(options.limit, t, options.redact, options.overAge);
  const out: PrimitiveSnapshot[] = [];
  for (const entry of live) {
    const primitive = entry.ref?.deref();
    if (primitive === undefined) continue;
    const s = sample();
    const described = (entry.describe as (p: object, sample: Sample) => Described)(primitive, s);
    out.push({ ...described, waits: s.waits(), omitted: s.omitted() });
  }
  sweep();
  // Grouped first (one array slot per call), then sampled: the oldest calls of each kind described.
  const kinds = new Map<string, Call[]>();
  const add = (call: Call) => {
    const list = kinds.get(call.kind);
    if (list === undefined) kinds.set(call.kind, [call]);
    else list.push(call);
  };
  for (const call of calls) add(call);
  for (const ref of weakCalls) {
    const call = ref.deref();
    if (call === undefined) weakCalls.delete(ref);
    else add(call);
  }
  for (const [kind, list] of kinds) {
    const s = sample();
    const quote = (name: string) => s.quote(name);
    s.take(list, sinceOf, (c) => ({ ...c.describeCall(quote), key: c, since: c.since }));
    const summary = `${count(list.length, 'call')} running`;
    const stats = { running: list.length };
    out.push({ kind, name: undefined, summary, stats, waits: s.waits(), omitted: s.omitted() });
  }
  return out;
}

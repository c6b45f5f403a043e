// The live set: the primitives the inspector can list (held through WeakRefs) and the per-call
// work (a fanOut call, a withTimeout call) linked into a list only while it runs.
import { enders, notifyEnded, publishEnd, publishStart, waitEnd, waitStart } from './channels.js';
import { recordOrigin } from './origins.js';
import {
  type Call,
  type Entry,
  flags,
  now,
  type PrimitiveSnapshot,
  shared,
  type WaitOutcome,
  type WaitSnapshot,
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
  describe: (primitive: P) => PrimitiveSnapshot,
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
  if (waitStart.hasSubscribers || waitEnd.hasSubscribers) {
    const { what, timeout } = call.describeCall();
    publishStart(call, { kind: call.kind, name: undefined, what, timeout });
  }
}

/** The call settled: drop it from the list, and tell subscribers and a stall watcher. */
export function endCall(call: Call, outcome: WaitOutcome): void {
  if (call.weak === undefined) {
    calls.remove(call);
  } else {
    weakCalls.delete(call.weak);
    droppedCalls.unregister(call.weak);
  }
  if (waitEnd.hasSubscribers) publishEnd(call, outcome);
  if (enders.size > 0) notifyEnded(call, outcome);
}

/** Snapshots of every live primitive, and the running calls grouped by kind. */
export function snapshots(): PrimitiveSnapshot[] {
  const out: PrimitiveSnapshot[] = [];
  for (const entry of live) {
    const primitive = entry.ref?.deref();
    if (primitive !== undefined) out.push((entry.describe as (p: object) => PrimitiveSnapshot)(primitive));
  }
  sweep();
  const kinds = new Map<string, WaitSnapshot[]>();
  const add = (call: Call) => {
    let waits = kinds.get(call.kind);
    if (waits === undefined) {
      waits = [];
      kinds.set(call.kind, waits);
    }
    waits.push({ ...call.describeCall(), key: call, since: call.since });
  };
  for (const call of calls) add(call);
  for (const ref of weakCalls) {
    const call = ref.deref();
    if (call === undefined) weakCalls.delete(ref);
    else add(call);
  }
  for (const [kind, waits] of kinds) {
    const summary = `${waits.length} call${waits.length === 1 ? '' : 's'} running`;
    out.push({ kind, name: undefined, summary, stats: { running: waits.length }, waits });
  }
  return out;
}

// The attribute objects of every series, made once per distinct combination and reused: recording
// a wait or a run looks one up (a few Map reads) and allocates nothing of its own.
import type { Attributes } from '@opentelemetry/api';

// Map keys for `undefined` (an unnamed primitive, an attribute a metric does not carry).
const NONE = Symbol('none');

type Key = string | boolean | undefined;
type Node = Map<Key | typeof NONE, Node | Attributes>;

/**
 * A cache of attribute objects keyed by `(kind, name, value1, value2)`: `unwedge.kind`, then
 * `unwedge.name` (left out when `undefined`: unnamed primitives share one series per kind), then up
 * to two attributes of the metric's own, named when the cache is made.
 */
export class AttributeCache {
  readonly #root: Node = new Map();
  readonly #extra: readonly string[];

  /** @param extra the names of the metric's own attributes, in the order `get` is given their values. */
  constructor(...extra: string[]) {
    this.#extra = extra;
  }

  /** The attributes of the series `(kind, name, ...values)`: the same object every time. */
  get(kind: string, name: string | undefined, a?: Key, b?: Key): Attributes {
    const k1 = this.#child(this.#root, kind);
    const k2 = this.#child(k1, name ?? NONE);
    const k3 = this.#child(k2, a ?? NONE);
    const found = k3.get(b ?? NONE);
    if (found !== undefined) return found as Attributes;
    const attributes: Attributes = { 'unwedge.kind': kind };
    if (name !== undefined) attributes['unwedge.name'] = name;
    const values = [a, b];
    this.#extra.forEach((key, i) => {
      const value = values[i];
      if (value !== undefined) attributes[key] = value;
    });
    k3.set(b ?? NONE, attributes);
    return attributes;
  }

  #child(node: Node, key: Key | typeof NONE): Node {
    let child = node.get(key) as Node | undefined;
    if (child === undefined) {
      child = new Map();
      node.set(key, child);
    }
    return child;
  }
}

/** The class name of an unwedge error by its `code` (stable across the ESM and CJS builds), or `undefined`. */
export function errorType(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  switch (code) {
    case 'ERR_UNWEDGE_TIMEOUT':
      return 'TimeoutError';
    case 'ERR_UNWEDGE_QUEUE_FULL':
      return 'QueueFullError';
    case 'ERR_UNWEDGE_CLOSED':
      return 'ClosedError';
    case 'ERR_UNWEDGE_DEADLOCK':
      return 'DeadlockError';
    default:
      return undefined;
  }
}

/** A wait's operation: the first word of its `what` (`acquire 2 permits` → `acquire`). */
export function operationOf(what: string): string {
  let op = operations.get(what);
  if (op === undefined) {
    const space = what.indexOf(' ');
    op = space === -1 ? what : what.slice(0, space);
    // Waits describe themselves with a handful of strings; a withTimeout call's is its own name, so bound it.
    if (operations.size < 1_000) operations.set(what, op);
  }
  return op;
}

const operations = new Map<string, string>();

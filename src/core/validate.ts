// Argument checks shared by every primitive. Each throws at once, naming the option and the value.
import { types } from 'node:util';
import { count } from './count.js';

const { isProxy } = types;
const { hasOwn } = Object;

/** Renders a received value for an error message: short, unambiguous, never throwing. */
export function show(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'bigint':
      return `${value}n`;
    case 'function':
      return value.name ? `function ${value.name}` : 'a function';
    case 'symbol':
      return value.toString();
    case 'undefined':
      return 'undefined';
    case 'boolean':
      return String(value);
    default: {
      if (value === null) return 'null';
      if (Array.isArray(value)) return 'an array';
      const ctor = (value as { constructor?: { name?: string } }).constructor?.name;
      return ctor && ctor !== 'Object' ? `an instance of ${ctor}` : 'an object';
    }
  }
}

function fail(kind: 'type' | 'range', name: string, expected: string, value: unknown): never {
  const message = `${name} must be ${expected}; received ${show(value)}`;
  throw kind === 'type' ? new TypeError(message) : new RangeError(message);
}

/** `value` must be a number; a non-number is a TypeError, NaN a RangeError. */
function number(value: unknown, name: string, expected: string): number {
  if (typeof value !== 'number') fail('type', name, expected, value);
  if (Number.isNaN(value)) fail('range', name, expected, value);
  return value;
}

/** A safe integer ≥ `min`. */
export function integer(value: unknown, name: string, min: number): number {
  const expected = min === 1 ? 'a positive integer' : `an integer >= ${min}`;
  const n = number(value, name, expected);
  if (!Number.isSafeInteger(n) || n < min) fail('range', name, expected, value);
  return n;
}

/** A safe integer ≥ `min`, or `Infinity`. */
export function integerOrInfinity(value: unknown, name: string, min: number): number {
  const expected = `an integer >= ${min} or Infinity`;
  const n = number(value, name, expected);
  if (n !== Number.POSITIVE_INFINITY && (!Number.isSafeInteger(n) || n < min))
    fail('range', name, expected, value);
  return n;
}

/**
 * A timeout in milliseconds: `undefined` and `Infinity` mean no limit (returned as `undefined`),
 * `0` means "do not wait", any other finite number ≥ 0 is the limit.
 */
export function timeout(value: unknown, name = 'timeout'): number | undefined {
  if (value === undefined) return undefined;
  const n = number(value, name, 'a number of milliseconds >= 0 (or Infinity)');
  if (n < 0) fail('range', name, 'a number of milliseconds >= 0 (or Infinity)', value);
  return n === Number.POSITIVE_INFINITY ? undefined : n;
}

/** A deadline in milliseconds that must be finite: a number >= 0 (`Infinity` is a RangeError). */
export function finiteTimeout(value: unknown, name: string): number {
  const expected = 'a finite number of milliseconds >= 0';
  const n = number(value, name, expected);
  if (n < 0 || n === Number.POSITIVE_INFINITY) fail('range', name, expected, value);
  return n;
}

/** A duration in milliseconds that must be given: a finite number > 0 (`undefined` is a TypeError). */
export function duration(value: unknown, name: string): number {
  const expected = 'a finite number of milliseconds > 0';
  const n = number(value, name, expected);
  if (!(n > 0) || n === Number.POSITIVE_INFINITY) fail('range', name, expected, value);
  return n;
}

/** An `AbortSignal` or `undefined`. */
export function signal(value: unknown, name = 'signal'): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof AbortSignal)) fail('type', name, 'an AbortSignal', value);
  return value;
}

/** A function. */
export function func<F extends Function>(value: unknown, name: string): F {
  if (typeof value !== 'function') fail('type', name, 'a function', value);
  return value as F;
}

/** A function, or a promise (any object with a `then` method): the work `withTimeout` bounds. */
export function funcOrPromise(value: unknown, name: string): void {
  if (typeof value === 'function') return;
  const then = value !== null && typeof value === 'object' && (value as { then?: unknown }).then;
  if (typeof then !== 'function') fail('type', name, 'a function or a promise', value);
}

/** A string or `undefined`. */
export function string(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') fail('type', name, 'a string', value);
  return value;
}

/** A boolean or `undefined`. */
export function boolean(value: unknown, name: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') fail('type', name, 'a boolean', value);
  return value;
}

// What `options()` returns for `undefined`: nothing to read, shared by every call.
const NONE: Readonly<Record<string, never>> = Object.freeze(Object.create(null));

// What `options()` returns otherwise: the own values, on an empty prototype that has no prototype,
// so a key not given reads `undefined` whatever Object.prototype holds. Made with `new`, not
// Object.create(null) (a dictionary object): about 55 instead of 105 ns per call (micro-benchmark).
const Snapshot = function Snapshot() {} as unknown as new () => Record<string, unknown>;
Snapshot.prototype = Object.create(null);

/**
 * An options bag: `undefined`, or a plain object (its prototype `Object.prototype` or `null`) whose
 * own enumerable keys are all in `keys`. Returns a null-prototype snapshot of its own values, read
 * once each. Issue 16: a misspelled key (`{ timout: 50 }`) was ignored and the call waited forever,
 * and a key set on `Object.prototype` was honoured by every call; now the first is a TypeError
 * naming the key it probably meant, and the second is never read.
 */
export function options<T extends object>(
  value: unknown,
  keys: readonly (keyof T & string)[],
  name = 'options',
): Partial<T> {
  if (value === undefined) return NONE as Partial<T>;
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    fail('type', name, 'an object', value);
  // Before getPrototypeOf, which would run a trap: a proxy can answer each read differently.
  if (isProxy(value)) throw new TypeError(`${name} must be a plain object; received a Proxy`);
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    // `show` calls Object.create({ timeout: 1 }) "an object", which reads as the fix, not the fault.
    const shown = show(value);
    throw new TypeError(
      `${name} must be a plain object; received ${shown === 'an object' ? 'an object with a prototype other than Object.prototype' : shown}`,
    );
  }
  const snapshot = new Snapshot();
  // for-in allocates no key array; it also lists inherited enumerable keys, which are skipped.
  for (const key in value) {
    if (!hasOwn(value, key)) continue;
    if (!(keys as readonly string[]).includes(key)) unknownKey(key, keys, name);
    try {
      snapshot[key] = (value as Record<string, unknown>)[key];
    } catch (error) {
      throw new TypeError(`${name}${pathOf(key)} could not be read: ${messageOf(error)}`, { cause: error });
    }
  }
  return snapshot as Partial<T>;
}

function unknownKey(key: string, keys: readonly string[], name: string): never {
  const near = nearest(key, keys);
  throw new TypeError(
    near === undefined
      ? `${name}${pathOf(key)} is not an option (expected one of: ${keys.join(', ')})`
      : `${name}${pathOf(key)} is not an option; did you mean ${near}?`,
  );
}

/** `.timeout`, or `["a b"]` for a key that is not an identifier. */
function pathOf(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : show(error);
}

/**
 * The valid key `key` was probably meant to be: the closest by Damerau-Levenshtein distance,
 * ignoring case, within 2 edits and within a third of the longer word (so `fd` does not suggest
 * any two-letter key). Ties go to the first in `keys`.
 */
function nearest(key: string, keys: readonly string[]): string | undefined {
  const typed = key.toLowerCase();
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of keys) {
    const d = distance(typed, candidate.toLowerCase());
    if (d < bestDistance && d <= Math.floor(Math.max(typed.length, candidate.length) / 3)) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Damerau-Levenshtein distance (optimal string alignment): insertions, deletions, substitutions, swaps. */
function distance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3; // farther than any suggestion; long keys stay cheap
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, row[j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      row.push(d);
    }
    rows.push(row);
  }
  return rows[a.length]![b.length]!;
}

/** A semaphore's weight: an integer from 1 to its `total` permits. */
export function weight(value: unknown, name: string, total: number): number {
  const w = integer(value, name, 1);
  if (w > total)
    throw new RangeError(`${name} must be <= the semaphore's ${count(total, 'permit')}; received ${w}`);
  return w;
}

const ACQUIRE_KEYS = ['weight', 'signal', 'timeout'] as const;

/** The options of a semaphore's `acquire` (local or in Redis): `weight` (default 1) up to `total`, `signal`, `timeout`. */
export function acquireOptions(
  value: unknown,
  total: number,
): { weight: number; signal: AbortSignal | undefined; timeout: number | undefined } {
  const o = options<{ weight?: unknown; signal?: unknown; timeout?: unknown }>(value, ACQUIRE_KEYS);
  return {
    weight: o.weight === undefined ? 1 : weight(o.weight, 'options.weight', total),
    signal: signal(o.signal, 'options.signal'),
    timeout: timeout(o.timeout, 'options.timeout'),
  };
}

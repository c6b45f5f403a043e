// Argument checks shared by every primitive. Each throws at once, naming the option and the value.

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

/** An options bag: a plain object or `undefined` (never `null`, a function or a primitive). */
export function options<T extends object>(value: unknown, name = 'options'): Partial<T> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    fail('type', name, 'an object', value);
  return value as Partial<T>;
}

/** A semaphore's weight: an integer from 1 to its `total` permits. */
export function weight(value: unknown, name: string, total: number): number {
  const w = integer(value, name, 1);
  if (w > total) throw new RangeError(`${name} must be <= the semaphore's ${total} permits; received ${w}`);
  return w;
}

/** The options of a semaphore's `acquire` (local or in Redis): `weight` (default 1) up to `total`, `signal`, `timeout`. */
export function acquireOptions(
  value: unknown,
  total: number,
): { weight: number; signal: AbortSignal | undefined; timeout: number | undefined } {
  const o = options<{ weight?: unknown; signal?: unknown; timeout?: unknown }>(value);
  return {
    weight: o.weight === undefined ? 1 : weight(o.weight, 'options.weight', total),
    signal: signal(o.signal, 'options.signal'),
    timeout: timeout(o.timeout, 'options.timeout'),
  };
}

// The argument checks every primitive shares (src/core/validate.ts), tested directly: each throws
// at once, a TypeError or RangeError naming the option and the value received.
import { describe, expect, test } from 'vitest';
import * as check from '../../src/core/validate.js';

describe('validate', () => {
  test('integerOrInfinity accepts Infinity and safe integers >= min only', () => {
    expect(check.integerOrInfinity(Number.POSITIVE_INFINITY, 'maxQueue', 0)).toBe(Number.POSITIVE_INFINITY);
    expect(check.integerOrInfinity(0, 'maxQueue', 0)).toBe(0);
    expect(() => check.integerOrInfinity(-1, 'maxQueue', 0)).toThrow(
      new RangeError('maxQueue must be an integer >= 0 or Infinity; received -1'),
    );
    expect(() => check.integerOrInfinity(0.5, 'maxQueue', 0)).toThrow(RangeError);
    expect(() => check.integerOrInfinity('1', 'maxQueue', 0)).toThrow(TypeError);
    expect(() => check.integer(-3, 'n', 0)).toThrow('n must be an integer >= 0; received -3');
  });

  test('boolean accepts booleans and undefined', () => {
    expect(check.boolean(true, 'drain')).toBe(true);
    expect(check.boolean(undefined, 'drain')).toBeUndefined();
    expect(() => check.boolean(1, 'options.drain')).toThrow(
      new TypeError('options.drain must be a boolean; received 1'),
    );
  });

  test('show renders every kind of value briefly', () => {
    expect(check.show(Symbol('s'))).toBe('Symbol(s)');
    expect(check.show(-0)).toBe('-0');
    expect(check.show(2n)).toBe('2n');
    expect(check.show('x'.repeat(50))).toBe(`"${'x'.repeat(40)}…"`);
    expect(check.show(() => {})).toBe('a function');
    expect(check.show(new Map())).toBe('an instance of Map');
    expect(check.show(Object.create(null))).toBe('an object');
  });

  test('timeout: undefined and Infinity mean no limit, 0 means do not wait, a negative or NaN is a RangeError', () => {
    expect(check.timeout(undefined)).toBeUndefined();
    expect(check.timeout(Number.POSITIVE_INFINITY)).toBeUndefined();
    expect(check.timeout(0)).toBe(0);
    expect(check.timeout(2.5)).toBe(2.5);
    expect(() => check.timeout(-1, 'options.timeout')).toThrow(
      new RangeError('options.timeout must be a number of milliseconds >= 0 (or Infinity); received -1'),
    );
    expect(() => check.timeout(Number.NaN)).toThrow(RangeError);
    expect(() => check.timeout('5')).toThrow(TypeError);
  });
});

describe('options', () => {
  test('returns a snapshot of the own values on a prototype-less object, each read once', () => {
    let reads = 0;
    const given = {
      get timeout() {
        reads++;
        return 5;
      },
    };
    const o = check.options<{ timeout?: number; signal?: AbortSignal }>(given, ['timeout', 'signal']);
    expect(reads).toBe(1);
    expect([o.timeout, o.timeout, reads]).toEqual([5, 5, 1]);
    expect(Object.getPrototypeOf(Object.getPrototypeOf(o))).toBeNull();
    expect(check.options<{ timeout?: number }>(undefined, ['timeout'])).toEqual({});
  });

  test('a key set on Object.prototype is never read as an option', () => {
    const proto = Object.prototype as { timeout?: unknown };
    proto.timeout = 1;
    try {
      expect(check.options<{ timeout?: number }>({}, ['timeout']).timeout).toBeUndefined();
      expect(check.options<{ timeout?: number }>(undefined, ['timeout']).timeout).toBeUndefined();
    } finally {
      delete proto.timeout;
    }
  });

  test('an unknown key is a TypeError that names the key it was probably meant to be, or lists them all', () => {
    const keys = ['timeout', 'signal'] as const;
    type O = { timeout?: number; signal?: AbortSignal };
    expect(() => check.options<O>({ timout: 50 }, keys)).toThrow(
      new TypeError('options.timout is not an option; did you mean timeout?'),
    );
    expect(() => check.options<O>({ 'max queue': 1 }, keys)).toThrow(
      new TypeError('options["max queue"] is not an option (expected one of: timeout, signal)'),
    );
  });

  test('only a plain object is accepted: not null, an array, a class instance or a Proxy', () => {
    const keys = ['timeout'] as const;
    expect(() => check.options<{ timeout?: number }>(null, keys)).toThrow(
      new TypeError('options must be an object; received null'),
    );
    expect(() => check.options<{ timeout?: number }>([], keys)).toThrow(TypeError);
    expect(() => check.options<{ timeout?: number }>(new (class Opts {})(), keys)).toThrow(
      new TypeError('options must be a plain object; received an instance of Opts'),
    );
    expect(() => check.options<{ timeout?: number }>(Object.create({ timeout: 1 }), keys)).toThrow(
      'options must be a plain object; received an object with a prototype other than Object.prototype',
    );
    expect(() => check.options<{ timeout?: number }>(new Proxy({}, {}), keys)).toThrow(
      new TypeError('options must be a plain object; received a Proxy'),
    );
  });
});

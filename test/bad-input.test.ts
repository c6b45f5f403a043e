// The bad-input table: every public constructor, method and option, each wrong value failing at
// once with the right class and a message naming the option and the value. Never a hang.
import { describe, expect, test } from 'vitest';
import { Semaphore, withTimeout } from '../src/index.js';

type Case = [
  label: string,
  call: () => unknown,
  errorClass: typeof TypeError | typeof RangeError,
  message: RegExp,
];

const noop = () => {};
const sem = () => new Semaphore(2);

// Values that are wrong for any numeric option, with the error class and what the message shows.
const notNumbers: Array<[unknown, string]> = [
  ['3', '"3"'],
  [null, 'null'],
  [true, 'true'],
  [{}, 'an object'],
  [noop, 'function noop'],
  [1n, '1n'],
];

function numberCases(
  name: string,
  call: (value: unknown) => unknown,
  ranges: Array<[unknown, string]>,
  option: string,
): Case[] {
  return [
    ...notNumbers.map(
      ([value, shown]): Case => [
        `${name}: ${option} = ${shown}`,
        () => call(value),
        TypeError,
        new RegExp(`^${esc(option)} must be .*; received ${esc(shown)}$`),
      ],
    ),
    ...ranges.map(
      ([value, shown]): Case => [
        `${name}: ${option} = ${shown}`,
        () => call(value),
        RangeError,
        new RegExp(`^${esc(option)} must be .*; received ${esc(shown)}$`),
      ],
    ),
  ];
}

function esc(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const positiveIntRanges: Array<[unknown, string]> = [
  [0, '0'],
  [-1, '-1'],
  [1.5, '1.5'],
  [Number.NaN, 'NaN'],
  [Number.POSITIVE_INFINITY, 'Infinity'],
  [-0.5, '-0.5'],
  [2 ** 53, String(2 ** 53)],
];
const timeoutRanges: Array<[unknown, string]> = [
  [-1, '-1'],
  [Number.NaN, 'NaN'],
  [Number.NEGATIVE_INFINITY, '-Infinity'],
];
const notSignals: Array<[unknown, string]> = [
  [{}, 'an object'],
  [null, 'null'],
  ['signal', '"signal"'],
  [new AbortController(), 'an instance of AbortController'],
  [noop, 'function noop'],
];
const notObjects: Array<[unknown, string]> = [
  [null, 'null'],
  [5, '5'],
  ['opts', '"opts"'],
  [[], 'an array'],
];

const cases: Case[] = [
  // new Semaphore(permits, options)
  ...numberCases('new Semaphore', (v) => new Semaphore(v as number), positiveIntRanges, 'permits'),
  ...notObjects.map(
    ([v, shown]): Case => [
      `new Semaphore: options = ${shown}`,
      () => new Semaphore(1, v as never),
      TypeError,
      new RegExp(`^options must be an object; received ${esc(shown)}$`),
    ],
  ),
  [
    'new Semaphore: options.name = 5',
    () => new Semaphore(1, { name: 5 as never }),
    TypeError,
    /^options\.name must be a string; received 5$/,
  ],
  // tryAcquire(weight)
  ...numberCases(
    'tryAcquire',
    (v) => sem().tryAcquire(v as number),
    positiveIntRanges.filter(([v]) => v !== 2 ** 53),
    'weight',
  ),
  [
    'tryAcquire: weight above permits',
    () => sem().tryAcquire(3),
    RangeError,
    /^weight must be <= the semaphore's 2 permits; received 3$/,
  ],
];

// Async calls: they never throw synchronously; they reject at once.
const asyncCases: Case[] = [
  ...numberCases(
    'acquire',
    (v) => sem().acquire({ weight: v as number }),
    positiveIntRanges.filter(([v]) => v !== 2 ** 53),
    'options.weight',
  ),
  [
    'acquire: weight above permits',
    () => sem().acquire({ weight: 3 }),
    RangeError,
    /^options\.weight must be <= the semaphore's 2 permits; received 3$/,
  ],
  ...numberCases('acquire', (v) => sem().acquire({ timeout: v as number }), timeoutRanges, 'options.timeout'),
  ...notSignals.map(
    ([v, shown]): Case => [
      `acquire: options.signal = ${shown}`,
      () => sem().acquire({ signal: v as AbortSignal }),
      TypeError,
      new RegExp(`^options\\.signal must be an AbortSignal; received ${esc(shown)}$`),
    ],
  ),
  ...notObjects.map(
    ([v, shown]): Case => [
      `acquire: options = ${shown}`,
      () => sem().acquire(v as never),
      TypeError,
      new RegExp(`^options must be an object; received ${esc(shown)}$`),
    ],
  ),
  ...[null, 5, 'fn', {}].map(
    (v): Case => [
      `run: fn = ${String(v)}`,
      () => sem().run(v as never),
      TypeError,
      /^fn must be a function; received /,
    ],
  ),
  ...numberCases(
    'run',
    (v) => sem().run(noop, { weight: v as number }),
    positiveIntRanges.filter(([v]) => v !== 2 ** 53),
    'options.weight',
  ),
  ...numberCases('run', (v) => sem().run(noop, { timeout: v as number }), timeoutRanges, 'options.timeout'),
  ...notSignals.map(
    ([v, shown]): Case => [
      `run: options.signal = ${shown}`,
      () => sem().run(noop, { signal: v as AbortSignal }),
      TypeError,
      new RegExp(`^options\\.signal must be an AbortSignal; received ${esc(shown)}$`),
    ],
  ),
  // withTimeout(work, ms, options)
  ...[null, 5, 'work', {}, undefined].map(
    (v): Case => [
      `withTimeout: work = ${String(v)}`,
      () => withTimeout(v as never, 10),
      TypeError,
      /^work must be a function; received /,
    ],
  ),
  ...numberCases('withTimeout', (v) => withTimeout(Promise.resolve(), v as number), timeoutRanges, 'ms'),
  ...notSignals.map(
    ([v, shown]): Case => [
      `withTimeout: options.signal = ${shown}`,
      () => withTimeout(Promise.resolve(), 10, { signal: v as AbortSignal }),
      TypeError,
      new RegExp(`^options\\.signal must be an AbortSignal; received ${esc(shown)}$`),
    ],
  ),
  [
    'withTimeout: options.name = 1',
    () => withTimeout(Promise.resolve(), 10, { name: 1 as never }),
    TypeError,
    /^options\.name must be a string; received 1$/,
  ],
  ...notObjects.map(
    ([v, shown]): Case => [
      `withTimeout: options = ${shown}`,
      () => withTimeout(Promise.resolve(), 10, v as never),
      TypeError,
      new RegExp(`^options must be an object; received ${esc(shown)}$`),
    ],
  ),
];

describe('synchronous calls throw at once', () => {
  test.each(cases)('%s', (_label, call, errorClass, message) => {
    expect(call).toThrow(errorClass);
    expect(call).toThrow(message);
  });
});

describe('async calls reject at once and never throw synchronously', () => {
  test.each(asyncCases)('%s', async (_label, call, errorClass, message) => {
    let result: unknown;
    expect(() => {
      result = call();
    }).not.toThrow();
    expect(result).toBeInstanceOf(Promise);
    // "At once": settled before any timer could fire.
    const outcome = await Promise.race([
      (result as Promise<unknown>).then(
        () => 'resolved',
        (error: unknown) => error,
      ),
      new Promise((resolve) => setImmediate(() => resolve('still pending'))),
    ]);
    expect(outcome).toBeInstanceOf(errorClass);
    expect((outcome as Error).message).toMatch(message);
  });
});

test('the table is not empty', () => {
  expect(cases.length + asyncCases.length).toBeGreaterThan(100);
});

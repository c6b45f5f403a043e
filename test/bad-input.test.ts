// The bad-input table: every public constructor, method and option, each wrong value failing at
// once with the right class and a message naming the option and the value. Never a hang, never a
// late failure, and never any work done: a bad call starts no task, takes no permit, adds or takes
// no item and sends no Redis command. An already-aborted signal rejects at once with its reason.
import type { Redis } from 'ioredis';
import pLimit from 'p-limit';
import PQueue from 'p-queue';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { LimitPool } from '../src/adapters/p-limit.js';
import { PQueuePool } from '../src/adapters/p-queue.js';
import { PiscinaPool } from '../src/adapters/piscina.js';
import {
  BoundedQueue,
  type Consumer,
  configure,
  type EventLoopWatcher,
  fanOut,
  fanOutIterable,
  Lifecycle,
  type Permit,
  Semaphore,
  TaskRegistry,
  type Watcher,
  WorkerPool,
  watchEventLoop,
  watchStalls,
  withTimeout,
} from '../src/index.js';
import { createInspectHandler, dumpOnSignal } from '../src/inspect/http.js';
import { inspect } from '../src/inspect/index.js';
import { RedisSemaphore } from '../src/redis/index.js';

type Case = [
  label: string,
  call: () => unknown,
  errorClass: typeof TypeError | typeof RangeError,
  message: RegExp,
  /** The error's `cause`, when it must carry one. */
  cause?: unknown,
];

/** A call given an already-aborted signal: it must reject at once with exactly its reason. */
type AbortCase = [label: string, call: (signal: AbortSignal) => unknown];

/**
 * A call made while `Object.prototype` carries a bad value for each of its option `keys` (and a
 * misspelt key): it must read only its own options, so it neither throws nor rejects with an
 * options error. `dispose` ends what the call started.
 */
type InheritedCase = [
  label: string,
  keys: readonly string[],
  call: () => unknown,
  dispose?: (result: unknown) => unknown,
];

interface Table {
  /** Constructors and synchronous methods: they throw at once. */
  sync: Case[];
  /** Async methods: they never throw synchronously, and reject before any timer could fire. */
  async: Case[];
  /** Calls given an already-aborted signal. */
  aborted: AbortCase[];
  /** Calls whose options keys are also set on `Object.prototype`. */
  inherited: InheritedCase[];
}

const noop = () => {};

// Work that must never start: every task, handler, callback and input read counts here, and each
// test ends by checking that nothing ran.
let started = 0;
function work(): void {
  started++;
}
function* items(): Generator<number> {
  started++;
  yield 1;
}

// Each primitive a case makes registers a check that the bad call left it untouched.
const untouched: Array<() => void> = [];
afterEach(() => {
  const checks = untouched.splice(0);
  const ran = started;
  started = 0;
  expect(ran, 'work started by a bad call').toBe(0);
  for (const check of checks) check();
});

function sem(permits = 2): Semaphore {
  const s = new Semaphore(permits);
  untouched.push(() => expect(s.available, 'free permits').toBe(permits));
  return s;
}

/** A queue holding one item, with room for one more: a bad call neither adds nor takes one. */
function queue(): BoundedQueue<string> {
  const q = new BoundedQueue<string>({ capacity: 2 });
  q.tryPut('queued');
  untouched.push(() => {
    expect(q.size, 'queued items').toBe(1);
    expect(q.unfinished, 'unfinished items').toBe(1);
    expect(q.closed, 'closed').toBe(false);
  });
  return q;
}

function emptyQueue(): BoundedQueue<string> {
  const q = new BoundedQueue<string>({ capacity: 2 });
  untouched.push(() => {
    expect(q.size, 'queued items').toBe(0);
    expect(q.closed, 'closed').toBe(false);
  });
  return q;
}

interface AnyPool {
  run(task: unknown, options?: unknown): Promise<unknown>;
  shutdown(options?: unknown): Promise<unknown>;
  idle(options?: unknown): Promise<unknown>;
  concurrency: number;
  readonly active: number;
  readonly queued: number;
  readonly closed: boolean;
}

function watched<P extends AnyPool>(pool: P, extra?: () => void): P {
  const concurrency = pool.concurrency;
  untouched.push(() => {
    expect(pool.active, 'active tasks').toBe(0);
    expect(pool.queued, 'queued tasks').toBe(0);
    expect(pool.closed, 'closed').toBe(false);
    expect(pool.concurrency, 'concurrency').toBe(concurrency);
    extra?.();
  });
  return pool;
}

function pool(): AnyPool {
  return watched(new WorkerPool({ concurrency: 1 }) as AnyPool);
}

function fakePiscina(sizing: object = { maxThreads: 2, concurrentTasksPerWorker: 1 }) {
  const calls = { run: 0, destroy: 0 };
  const piscina = {
    run: () => {
      calls.run++;
      return Promise.resolve();
    },
    destroy: () => {
      calls.destroy++;
      return Promise.resolve();
    },
    options: sizing,
  };
  untouched.push(() => expect(calls, 'calls to piscina').toEqual({ run: 0, destroy: 0 }));
  return piscina as never;
}

function piscinaPool(): AnyPool {
  return watched(new PiscinaPool(fakePiscina()) as unknown as AnyPool);
}

function pqueuePool(): AnyPool {
  const q = new PQueue({ concurrency: 1 });
  return watched(new PQueuePool(q) as AnyPool, () => expect(q.size + q.pending, 'p-queue entries').toBe(0));
}

function limitPool(): AnyPool {
  const limit = pLimit(1);
  return watched(new LimitPool(limit) as AnyPool, () =>
    expect(limit.activeCount + limit.pendingCount, 'p-limit entries').toBe(0),
  );
}

function registry(): TaskRegistry {
  const r = new TaskRegistry();
  untouched.push(() => {
    expect(r.size, 'live tasks').toBe(0);
    expect(r.closed, 'closed').toBe(false);
  });
  return r;
}

/** A lifecycle a bad call must leave running, with nothing registered and no signal handled. */
function lifecycle(): Lifecycle {
  const life = new Lifecycle();
  const signals = ['SIGTERM', 'SIGINT'].map((s) => process.listenerCount(s));
  untouched.push(() => {
    expect(life.state, 'state').toBe('running');
    expect(
      ['SIGTERM', 'SIGINT'].map((s) => process.listenerCount(s)),
      'signal listeners',
    ).toEqual(signals);
  });
  return life;
}

/** An ioredis stand-in that throws on any call: validation must fail before any Redis command. */
function dummyRedis(): Redis {
  const calls: string[] = [];
  const client = new Proxy(
    {},
    {
      get(_target, property) {
        if (property === 'status') return 'ready';
        if (typeof property === 'symbol' || property === 'then') return undefined;
        return () => {
          calls.push(property);
          throw new Error(`the dummy Redis client was called: ${property}()`);
        };
      },
    },
  );
  untouched.push(() => expect(calls, 'Redis commands sent').toEqual([]));
  return client as Redis;
}

function redisSem(): RedisSemaphore {
  const s = new RedisSemaphore(dummyRedis(), { key: 'bad-input', permits: 2 });
  untouched.push(() => {
    expect(s.held, 'permits held').toBe(0);
    expect(s.waiting, 'waiters').toBe(0);
  });
  return s;
}

// --- the wrong values -------------------------------------------------------------------------

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

/** `<option> must be <expected>; received <shown>`, exactly. */
function exact(option: string, expected: string, shown: string): RegExp {
  return new RegExp(`^${esc(option)} must be ${esc(expected)}; received ${esc(shown)}$`);
}

/** One case per wrong value, each a TypeError with the exact message. */
function typeCases(
  name: string,
  option: string,
  call: (value: unknown) => unknown,
  values: Array<[unknown, string]>,
  expected: string,
): Case[] {
  return values.map(
    ([value, shown]): Case => [
      `${name}: ${option} = ${shown}`,
      () => call(value),
      TypeError,
      exact(option, expected, shown),
    ],
  );
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
const weightRanges = positiveIntRanges.filter(([v]) => v !== 2 ** 53);
const timeoutRanges: Array<[unknown, string]> = [
  [-1, '-1'],
  [Number.NaN, 'NaN'],
  [Number.NEGATIVE_INFINITY, '-Infinity'],
];
/** An integer >= 0 or Infinity (maxQueue). */
const countRanges: Array<[unknown, string]> = [
  [-1, '-1'],
  [1.5, '1.5'],
  [Number.NaN, 'NaN'],
  [Number.NEGATIVE_INFINITY, '-Infinity'],
  [2 ** 53, String(2 ** 53)],
];
/** An integer >= 1 or Infinity (the fronts' concurrency setter). */
const limitRanges: Array<[unknown, string]> = [
  [0, '0'],
  [-1, '-1'],
  [1.5, '1.5'],
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
  [noop, 'function noop'],
];
const notStrings: Array<[unknown, string]> = [
  [5, '5'],
  [null, 'null'],
  [true, 'true'],
  [{}, 'an object'],
  [noop, 'function noop'],
  [Symbol('name'), 'Symbol(name)'],
];
const notBooleans: Array<[unknown, string]> = [
  ['yes', '"yes"'],
  [1, '1'],
  [0, '0'],
  [null, 'null'],
  [noop, 'function noop'],
];
/** Wrong for a function that may be left out (callbacks such as `onError`). */
const notFunctions: Array<[unknown, string]> = [
  [5, '5'],
  ['fn', '"fn"'],
  [null, 'null'],
  [{}, 'an object'],
  [true, 'true'],
];
/** Wrong for a function that must be given (tasks, handlers). */
const notRequiredFunctions: Array<[unknown, string]> = [...notFunctions, [undefined, 'undefined']];

const signalCases = (name: string, option: string, call: (value: unknown) => unknown) =>
  typeCases(name, option, call, notSignals, 'an AbortSignal');
const optionsCases = (name: string, call: (value: unknown) => unknown, option = 'options') =>
  typeCases(name, option, call, notObjects, 'an object');
const stringCases = (name: string, option: string, call: (value: unknown) => unknown) =>
  typeCases(name, option, call, notStrings, 'a string');
const booleanCases = (name: string, option: string, call: (value: unknown) => unknown) =>
  typeCases(name, option, call, notBooleans, 'a boolean');
const functionCases = (name: string, option: string, call: (value: unknown) => unknown, required = true) =>
  typeCases(name, option, call, required ? notRequiredFunctions : notFunctions, 'a function');

// Issue 16: the options object itself. A misspelt key was ignored and the call waited forever;
// now it fails at once, naming the key it probably meant.
class Options {}
const getterFailure = new Error('getter failed');

/**
 * Cases for an options object that is wrong as a whole: a misspelt key (`typo`: what was typed and
 * what was meant), a key nothing is close to (`foo`: the message lists `keys`, the call's options,
 * exactly), objects that are not plain (a Map, a Date, a class instance, an object inheriting from
 * another), a Proxy, and a getter that throws (reported with its error as `cause`). `valid` holds
 * the options the call needs besides.
 */
function strictCases(
  name: string,
  call: (options: unknown) => unknown,
  keys: readonly string[],
  [typed, meant]: [string, string],
  valid: object = {},
): Case[] {
  const plain = (shown: string): RegExp => exact('options', 'a plain object', shown);
  const getter = { ...valid };
  Object.defineProperty(getter, keys[0]!, {
    enumerable: true,
    get() {
      throw getterFailure;
    },
  });
  return [
    [
      `${name}: options.${typed} (misspelt)`,
      () => call({ ...valid, [typed]: 50 }),
      TypeError,
      new RegExp(`^options\\.${esc(typed)} is not an option; did you mean ${esc(meant)}\\?$`),
    ],
    [
      `${name}: options.foo (unknown)`,
      () => call({ ...valid, foo: 1 }),
      TypeError,
      new RegExp(`^options\\.foo is not an option \\(expected one of: ${esc(keys.join(', '))}\\)$`),
    ],
    [
      `${name}: options = a Map`,
      () => call(new Map(Object.entries(valid))),
      TypeError,
      plain('an instance of Map'),
    ],
    [`${name}: options = a Date`, () => call(new Date(0)), TypeError, plain('an instance of Date')],
    [
      `${name}: options = a class instance`,
      () => call(Object.assign(new Options(), valid)),
      TypeError,
      plain('an instance of Options'),
    ],
    [
      `${name}: options = an object inheriting its options`,
      () => call(Object.create(valid)),
      TypeError,
      plain('an object with a prototype other than Object.prototype'),
    ],
    [
      `${name}: options = a Proxy`,
      () => call(new Proxy({ ...valid }, {})),
      TypeError,
      /^options must be a plain object; received a Proxy$/,
    ],
    [
      `${name}: options.${keys[0]} is a getter that throws`,
      () => call(getter),
      TypeError,
      new RegExp(`^options\\.${esc(keys[0]!)} could not be read: getter failed$`),
      getterFailure,
    ],
  ];
}

// Each call's options, in the order the message lists them.
const ACQUIRE = ['weight', 'signal', 'timeout'];
const QUEUE_WAIT = ['timeout', 'signal'];
const CONSUME = ['concurrency', 'signal', 'timeout', 'onError'];
const POOL = ['name', 'maxQueue', 'timeout', 'asyncContext', 'onError'];
const WORKER_POOL = [...POOL, 'concurrency'];
const RUN = ['signal', 'timeout', 'queueTimeout'];
const FAN_OUT = ['window', 'semaphores', 'pool', 'signal'];
const REDIS = ['key', 'permits', 'leaseMs', 'name', 'onError'];

/** `run`, `shutdown` and `idle` of a pool, given options objects that are wrong as a whole. */
function poolStrictCases(make: () => AnyPool, task: unknown, runKeys = RUN): Case[] {
  return [
    ...strictCases('run', (v) => make().run(task, v), runKeys, ['timout', 'timeout']),
    ...strictCases('shutdown', (v) => make().shutdown(v), ['drain', 'timeout'], ['drian', 'drain']),
    ...strictCases('idle', (v) => make().idle(v), ['signal', 'timeout'], ['Timeout', 'timeout']),
  ];
}

/** `new`, `run`, `shutdown` and `idle` of a pool made by `make`, with inherited options. */
function poolInheritedCases(
  name: string,
  make: () => AnyPool,
  task: unknown,
  keys: { pool: readonly string[]; run: readonly string[] },
): InheritedCase[] {
  return [
    [`new ${name}`, keys.pool, make],
    ['run(task, {})', keys.run, () => make().run(task, {})],
    ['shutdown({})', ['drain', 'timeout'], () => make().shutdown({})],
    ['idle({})', ['signal', 'timeout'], () => make().idle({})],
  ];
}

// Made before any pollution: p-queue's constructor reads its own options' inherited keys too.
const sharedQueue = new PQueue({ concurrency: 1 });
const sharedLimit = pLimit(1);

/** A piscina stand-in whose tasks resolve at once, for calls that are meant to run. */
function idlePiscina() {
  return {
    run: () => Promise.resolve(),
    destroy: () => Promise.resolve(),
    options: { maxThreads: 1, concurrentTasksPerWorker: 1 },
  } as never;
}

function aborted(): AbortSignal {
  const controller = new AbortController();
  controller.abort(new Error('the caller went away'));
  return controller.signal;
}

// --- the tables, one per primitive --------------------------------------------------------------

const semaphoreTable: Table = {
  sync: [
    // new Semaphore(permits, options)
    ...numberCases('new Semaphore', (v) => new Semaphore(v as number), positiveIntRanges, 'permits'),
    [
      'new Semaphore: permits = undefined',
      () => new Semaphore(undefined as never),
      TypeError,
      /^permits must be a positive integer; received undefined$/,
    ],
    ...optionsCases('new Semaphore', (v) => new Semaphore(1, v as never)),
    ...strictCases(
      'new Semaphore',
      (v) => new Semaphore(1, v as never),
      ['name', 'detectDeadlocks'],
      ['nmae', 'name'],
    ),
    ...stringCases('new Semaphore', 'options.name', (v) => new Semaphore(1, { name: v as never })),
    ...booleanCases(
      'new Semaphore',
      'options.detectDeadlocks',
      (v) => new Semaphore(1, { detectDeadlocks: v as never }),
    ),
    // tryAcquire(weight)
    ...numberCases('tryAcquire', (v) => sem().tryAcquire(v as number), weightRanges, 'weight'),
    [
      'tryAcquire: weight above permits',
      () => sem().tryAcquire(3),
      RangeError,
      /^weight must be <= the semaphore's 2 permits; received 3$/,
    ],
    [
      'tryAcquire: weight above the only permit',
      () => sem(1).tryAcquire(2),
      RangeError,
      /^weight must be <= the semaphore's 1 permit; received 2$/,
    ],
  ],
  async: [
    ...numberCases('acquire', (v) => sem().acquire({ weight: v as number }), weightRanges, 'options.weight'),
    [
      'acquire: weight above permits',
      () => sem().acquire({ weight: 3 }),
      RangeError,
      /^options\.weight must be <= the semaphore's 2 permits; received 3$/,
    ],
    ...numberCases(
      'acquire',
      (v) => sem().acquire({ timeout: v as number }),
      timeoutRanges,
      'options.timeout',
    ),
    ...signalCases('acquire', 'options.signal', (v) => sem().acquire({ signal: v as never })),
    ...optionsCases('acquire', (v) => sem().acquire(v as never)),
    ...strictCases('acquire', (v) => sem().acquire(v as never), ACQUIRE, ['wieght', 'weight']),
    // run(fn, options)
    ...functionCases('run', 'fn', (v) => sem().run(v as never)),
    ...numberCases('run', (v) => sem().run(work, { weight: v as number }), weightRanges, 'options.weight'),
    [
      'run: weight above permits',
      () => sem().run(work, { weight: 3 }),
      RangeError,
      /^options\.weight must be <= the semaphore's 2 permits; received 3$/,
    ],
    ...numberCases('run', (v) => sem().run(work, { timeout: v as number }), timeoutRanges, 'options.timeout'),
    ...signalCases('run', 'options.signal', (v) => sem().run(work, { signal: v as never })),
    ...optionsCases('run', (v) => sem().run(work, v as never)),
    ...strictCases('run', (v) => sem().run(work, v as never), ACQUIRE, ['timout', 'timeout']),
  ],
  aborted: [
    ['acquire({ signal }) with a permit free', (signal) => sem().acquire({ signal })],
    ['acquire({ signal, weight: 2 })', (signal) => sem().acquire({ signal, weight: 2 })],
    ['acquire({ signal, timeout: 0 })', (signal) => sem().acquire({ signal, timeout: 0 })],
    ['run(fn, { signal }) with a permit free', (signal) => sem().run(work, { signal })],
    ['run(fn, { signal, timeout: 50 })', (signal) => sem().run(work, { signal, timeout: 50 })],
  ],
  inherited: [
    ['new Semaphore(1, {})', ['name', 'detectDeadlocks'], () => new Semaphore(1, {})],
    ['acquire({})', ACQUIRE, () => new Semaphore(1).acquire({}), (permit) => (permit as Permit).release()],
    ['run(fn, {})', ACQUIRE, () => new Semaphore(1).run(noop, {})],
  ],
};

const withTimeoutTable: Table = {
  sync: [],
  async: [
    // work may be a promise as well as a function, and the message says so
    ...typeCases(
      'withTimeout',
      'work',
      (v) => withTimeout(v as never, 10),
      notRequiredFunctions,
      'a function or a promise',
    ),
    [
      'withTimeout: work = an object with a non-function then',
      // biome-ignore lint/suspicious/noThenProperty: a broken thenable on purpose.
      () => withTimeout({ then: 5 } as never, 10),
      TypeError,
      /^work must be a function or a promise; received an object$/,
    ],
    ...numberCases('withTimeout', (v) => withTimeout(Promise.resolve(), v as number), timeoutRanges, 'ms'),
    ...numberCases('withTimeout', (v) => withTimeout(work, v as number), timeoutRanges, 'ms'),
    ...signalCases('withTimeout', 'options.signal', (v) => withTimeout(work, 10, { signal: v as never })),
    ...stringCases('withTimeout', 'options.name', (v) => withTimeout(work, 10, { name: v as never })),
    ...optionsCases('withTimeout', (v) => withTimeout(work, 10, v as never)),
    ...strictCases(
      'withTimeout',
      (v) => withTimeout(work, 10, v as never),
      ['signal', 'name'],
      ['sigal', 'signal'],
    ),
  ],
  aborted: [
    ['withTimeout(fn, 10, { signal })', (signal) => withTimeout(work, 10, { signal })],
    ['withTimeout(fn, undefined, { signal })', (signal) => withTimeout(work, undefined, { signal })],
    [
      'withTimeout(fn, 0, { signal }): the abort wins over the timeout',
      (signal) => withTimeout(work, 0, { signal }),
    ],
    ['withTimeout(promise, 10, { signal })', (signal) => withTimeout(new Promise(noop), 10, { signal })],
  ],
  inherited: [['withTimeout(fn, 10, {})', ['signal', 'name'], () => withTimeout(noop, 10, {})]],
};

const queueTable: Table = {
  sync: [
    // new BoundedQueue(options)
    [
      'new BoundedQueue: options = undefined',
      () => new BoundedQueue(undefined as never),
      TypeError,
      /^options must be an object; received undefined$/,
    ],
    ...optionsCases('new BoundedQueue', (v) => new BoundedQueue(v as never)),
    ...strictCases(
      'new BoundedQueue',
      (v) => new BoundedQueue(v as never),
      ['capacity', 'name'],
      ['capasity', 'capacity'],
      {
        capacity: 1,
      },
    ),
    [
      'new BoundedQueue: options.capacity = undefined',
      () => new BoundedQueue({} as never),
      TypeError,
      /^options\.capacity must be a positive integer; received undefined$/,
    ],
    ...numberCases(
      'new BoundedQueue',
      (v) => new BoundedQueue({ capacity: v as number }),
      positiveIntRanges,
      'options.capacity',
    ),
    ...stringCases(
      'new BoundedQueue',
      'options.name',
      (v) => new BoundedQueue({ capacity: 1, name: v as never }),
    ),
    // shutdown(options), taskDone()
    ...optionsCases('shutdown', (v) => queue().shutdown(v as never)),
    ...strictCases('shutdown', (v) => queue().shutdown(v as never), ['immediate'], ['imediate', 'immediate']),
    ...booleanCases('shutdown', 'options.immediate', (v) => queue().shutdown({ immediate: v as never })),
    [
      'taskDone: more calls than items taken',
      () => queue().taskDone(),
      RangeError,
      /^queue: taskDone\(\) called more times than items were taken \(1 queued, none taken and not done\)$/,
    ],
    // consume(handler, options)
    ...functionCases('consume', 'handler', (v) => queue().consume(v as never)),
    ...optionsCases('consume', (v) => queue().consume(work, v as never)),
    ...strictCases('consume', (v) => queue().consume(work, v as never), CONSUME, [
      'concurency',
      'concurrency',
    ]),
    ...numberCases(
      'consume',
      (v) => queue().consume(work, { concurrency: v as number }),
      positiveIntRanges,
      'options.concurrency',
    ),
    ...signalCases('consume', 'options.signal', (v) => queue().consume(work, { signal: v as never })),
    ...numberCases(
      'consume',
      (v) => queue().consume(work, { timeout: v as number }),
      timeoutRanges,
      'options.timeout',
    ),
    [
      'consume: options.timeout = 0',
      () => queue().consume(work, { timeout: 0 }),
      RangeError,
      /^options\.timeout must be a number of milliseconds > 0; received 0$/,
    ],
    ...functionCases(
      'consume',
      'options.onError',
      (v) => queue().consume(work, { onError: v as never }),
      false,
    ),
  ],
  async: [
    // put(item, options): the item is not added
    ...optionsCases('put', (v) => queue().put('x', v as never)),
    ...strictCases('put', (v) => queue().put('x', v as never), QUEUE_WAIT, ['timout', 'timeout']),
    ...numberCases(
      'put',
      (v) => queue().put('x', { timeout: v as number }),
      timeoutRanges,
      'options.timeout',
    ),
    ...signalCases('put', 'options.signal', (v) => queue().put('x', { signal: v as never })),
    // get(options): no item is taken
    ...optionsCases('get', (v) => queue().get(v as never)),
    ...strictCases('get', (v) => queue().get(v as never), QUEUE_WAIT, ['Timeout', 'timeout']),
    ...numberCases('get', (v) => queue().get({ timeout: v as number }), timeoutRanges, 'options.timeout'),
    ...signalCases('get', 'options.signal', (v) => queue().get({ signal: v as never })),
    // join(options)
    ...optionsCases('join', (v) => queue().join(v as never)),
    ...strictCases('join', (v) => queue().join(v as never), QUEUE_WAIT, ['sigal', 'signal']),
    ...numberCases('join', (v) => queue().join({ timeout: v as number }), timeoutRanges, 'options.timeout'),
    ...signalCases('join', 'options.signal', (v) => queue().join({ signal: v as never })),
    // consumer.stop(options)
    ...optionsCases('consumer.stop', (v) =>
      emptyQueue()
        .consume(work)
        .stop(v as never),
    ),
    ...numberCases(
      'consumer.stop',
      (v) =>
        emptyQueue()
          .consume(work)
          .stop({ timeout: v as number }),
      timeoutRanges,
      'options.timeout',
    ),
    ...signalCases('consumer.stop', 'options.signal', (v) =>
      emptyQueue()
        .consume(work)
        .stop({ signal: v as never }),
    ),
    ...strictCases(
      'consumer.stop',
      (v) =>
        emptyQueue()
          .consume(work)
          .stop(v as never),
      QUEUE_WAIT,
      ['tiemout', 'timeout'],
    ),
  ],
  aborted: [
    ['put(item, { signal }) with room', (signal) => queue().put('x', { signal })],
    ['put(item, { signal, timeout: 0 })', (signal) => queue().put('x', { signal, timeout: 0 })],
    ['get({ signal }) with an item queued', (signal) => queue().get({ signal })],
    ['get({ signal, timeout: 0 })', (signal) => queue().get({ signal, timeout: 0 })],
    ['join({ signal }) with an unfinished item', (signal) => queue().join({ signal })],
    ['consumer.stop({ signal })', (signal) => emptyQueue().consume(work).stop({ signal })],
  ],
  inherited: [
    ['new BoundedQueue({ capacity: 1 })', ['capacity', 'name'], () => new BoundedQueue({ capacity: 1 })],
    ['put(item, {})', QUEUE_WAIT, () => new BoundedQueue({ capacity: 1 }).put('x', {})],
    [
      'get({}) with an item queued',
      QUEUE_WAIT,
      () => {
        const q = new BoundedQueue<string>({ capacity: 1 });
        q.tryPut('x');
        return q.get({});
      },
    ],
    ['join({})', QUEUE_WAIT, () => new BoundedQueue({ capacity: 1 }).join({})],
    ['shutdown({})', ['immediate'], () => new BoundedQueue({ capacity: 1 }).shutdown({})],
    [
      'consume(handler, {})',
      CONSUME,
      () => new BoundedQueue({ capacity: 1 }).consume(noop, {}),
      (consumer) => (consumer as Consumer).stop(),
    ],
    ['consumer.stop({})', QUEUE_WAIT, () => new BoundedQueue({ capacity: 1 }).consume(noop).stop({})],
  ],
};

/** Cases for the options every pool takes (`PoolOptions`), given a constructor of the pool. */
function poolOptionCases(name: string, make: (options: unknown) => unknown): Case[] {
  return [
    ...optionsCases(name, make),
    ...numberCases(name, (v) => make({ maxQueue: v }), countRanges, 'options.maxQueue'),
    ...numberCases(name, (v) => make({ timeout: v }), timeoutRanges, 'options.timeout'),
    [
      `${name}: options.timeout = 0 (it would reject every run)`,
      () => make({ timeout: 0 }),
      RangeError,
      /^options\.timeout must be a number of milliseconds > 0; received 0$/,
    ],
    ...stringCases(name, 'options.name', (v) => make({ name: v })),
    ...booleanCases(name, 'options.asyncContext', (v) => make({ asyncContext: v })),
    ...functionCases(name, 'options.onError', (v) => make({ onError: v }), false),
  ];
}

/** Cases for `run`, `shutdown` and `idle` of a pool; `task` is a valid first argument of `run`. */
function poolMethodCases(make: () => AnyPool, task: unknown): Case[] {
  return [
    ...optionsCases('run', (v) => make().run(task, v)),
    ...signalCases('run', 'options.signal', (v) => make().run(task, { signal: v })),
    ...numberCases('run', (v) => make().run(task, { timeout: v }), timeoutRanges, 'options.timeout'),
    ...numberCases(
      'run',
      (v) => make().run(task, { queueTimeout: v }),
      timeoutRanges,
      'options.queueTimeout',
    ),
    ...optionsCases('shutdown', (v) => make().shutdown(v)),
    ...booleanCases('shutdown', 'options.drain', (v) => make().shutdown({ drain: v })),
    ...numberCases('shutdown', (v) => make().shutdown({ timeout: v }), timeoutRanges, 'options.timeout'),
    ...numberCases(
      'shutdown',
      (v) => make().shutdown({ drain: true, timeout: v }),
      timeoutRanges,
      'options.timeout',
    ),
    ...optionsCases('idle', (v) => make().idle(v)),
    ...signalCases('idle', 'options.signal', (v) => make().idle({ signal: v })),
    ...numberCases('idle', (v) => make().idle({ timeout: v }), timeoutRanges, 'options.timeout'),
  ];
}

function poolAbortCases(make: () => AnyPool, task: unknown): AbortCase[] {
  return [
    ['run(task, { signal }) with a slot free', (signal) => make().run(task, { signal })],
    ['run(task, { signal, timeout: 0 })', (signal) => make().run(task, { signal, timeout: 0 })],
    ['run(task, { signal, queueTimeout: 0 })', (signal) => make().run(task, { signal, queueTimeout: 0 })],
    ['idle({ signal }) when idle', (signal) => make().idle({ signal })],
    ['idle({ signal, timeout: 0 })', (signal) => make().idle({ signal, timeout: 0 })],
  ];
}

const workerPoolTable: Table = {
  sync: [
    [
      'new WorkerPool: options = undefined',
      () => new WorkerPool(undefined as never),
      TypeError,
      /^options\.concurrency must be a positive integer; received undefined$/,
    ],
    ...poolOptionCases('new WorkerPool', (o) =>
      o !== null && typeof o === 'object' && !Array.isArray(o)
        ? new WorkerPool({ concurrency: 1, ...o })
        : new WorkerPool(o as never),
    ),
    ...strictCases(
      'new WorkerPool',
      (v) => new WorkerPool(v as never),
      WORKER_POOL,
      ['concurency', 'concurrency'],
      {
        concurrency: 1,
      },
    ),
    [
      'new WorkerPool: options.concurrency = undefined',
      () => new WorkerPool({} as never),
      TypeError,
      /^options\.concurrency must be a positive integer; received undefined$/,
    ],
    ...numberCases(
      'new WorkerPool',
      (v) => new WorkerPool({ concurrency: v as number }),
      positiveIntRanges,
      'options.concurrency',
    ),
    ...numberCases(
      'concurrency setter',
      (v) => {
        pool().concurrency = v as number;
      },
      positiveIntRanges,
      'concurrency',
    ),
  ],
  async: [
    ...functionCases('run', 'task', (v) => pool().run(v)),
    ...poolMethodCases(pool, work),
    ...poolStrictCases(pool, work),
  ],
  aborted: poolAbortCases(pool, work),
  inherited: poolInheritedCases(
    'WorkerPool({ concurrency: 1 })',
    () => new WorkerPool({ concurrency: 1 }),
    noop,
    {
      pool: WORKER_POOL,
      run: RUN,
    },
  ),
};

const fanOutOptionCases = (name: string, call: (options: unknown) => unknown): Case[] => [
  [
    `${name}: options = undefined`,
    () => call(undefined),
    TypeError,
    /^options must be an object with a window; received undefined$/,
  ],
  ...optionsCases(name, call),
  [
    `${name}: options.window = undefined`,
    () => call({}),
    TypeError,
    /^options\.window must be a positive integer; received undefined$/,
  ],
  ...numberCases(name, (v) => call({ window: v }), positiveIntRanges, 'options.window'),
  ...signalCases(name, 'options.signal', (v) => call({ window: 1, signal: v })),
  ...typeCases(
    name,
    'options.semaphores',
    (v) => call({ window: 1, semaphores: v }),
    [
      [5, '5'],
      [null, 'null'],
      ['storage', '"storage"'],
      [noop, 'function noop'],
      [new Semaphore(1), 'an instance of Semaphore'], // one semaphore, not in an array
      [{ length: 1, 0: new Semaphore(1) }, 'an object'],
    ],
    'an array of semaphores',
  ),
  ...(
    [
      [[5], 0, '5'],
      [[null], 0, 'null'],
      [[{}], 0, 'an object'],
      [[noop], 0, 'function noop'],
      [[{ acquire: 5 }], 0, 'an object'],
      [() => [sem(), 'storage'], 1, '"storage"'],
    ] as Array<[unknown, number, string]>
  ).map(
    ([list, index, shown]): Case => [
      `${name}: options.semaphores[${index}] = ${shown}`,
      () => call({ window: 1, semaphores: typeof list === 'function' ? list() : list }),
      TypeError,
      new RegExp(
        `^options\\.semaphores\\[${index}\\] must have an acquire\\(\\) method; received ${esc(shown)}$`,
      ),
    ],
  ),
  ...(
    [
      [5, '5'],
      [null, 'null'],
      [{}, 'an object'],
      [noop, 'function noop'],
      ['pool', '"pool"'],
      [{ run: 5 }, 'an object'],
    ] as Array<[unknown, string]>
  ).map(
    ([value, shown]): Case => [
      `${name}: options.pool = ${shown}`,
      () => call({ window: 1, pool: value }),
      TypeError,
      new RegExp(`^options\\.pool must have a run\\(\\) method; received ${esc(shown)}$`),
    ],
  ),
];

const fanOutItemsCases = (name: string, call: (items: unknown) => unknown): Case[] =>
  typeCases(
    name,
    'items',
    call,
    [
      [null, 'null'],
      [undefined, 'undefined'],
      [5, '5'],
      ['abc', '"abc"'],
      [{}, 'an object'],
      [items, 'function items'], // the generator function, not its generator
      [{ [Symbol.iterator]: 5 }, 'an object'],
    ],
    'an iterable or async iterable',
  );

const fanOutTable: Table = {
  sync: [
    // fanOutIterable checks its arguments when called, before iteration starts.
    ...fanOutItemsCases('fanOutIterable', (v) => fanOutIterable(v as never, work, { window: 1 })),
    ...functionCases('fanOutIterable', 'fn', (v) => fanOutIterable(items(), v as never, { window: 1 })),
    ...fanOutOptionCases('fanOutIterable', (o) => fanOutIterable(items(), work, o as never)),
    ...booleanCases('fanOutIterable', 'options.ordered', (v) =>
      fanOutIterable(items(), work, { window: 1, ordered: v as never }),
    ),
    ...strictCases(
      'fanOutIterable',
      (v) => fanOutIterable(items(), work, v as never),
      [...FAN_OUT, 'ordered'],
      ['orderd', 'ordered'],
      {
        window: 1,
      },
    ),
  ],
  async: [
    ...fanOutItemsCases('fanOut', (v) => fanOut(v as never, work, { window: 1 })),
    ...functionCases('fanOut', 'fn', (v) => fanOut(items(), v as never, { window: 1 })),
    ...fanOutOptionCases('fanOut', (o) => fanOut(items(), work, o as never)),
    ...booleanCases('fanOut', 'options.settle', (v) =>
      fanOut(items(), work, { window: 1, settle: v as never }),
    ),
    ...strictCases(
      'fanOut',
      (v) => fanOut(items(), work, v as never),
      [...FAN_OUT, 'settle'],
      ['setle', 'settle'],
      {
        window: 1,
      },
    ),
  ],
  aborted: [
    ['fanOut(items, fn, { signal })', (signal) => fanOut(items(), work, { window: 2, signal })],
    [
      'fanOut with semaphores and a pool: no permit taken, nothing run',
      (signal) => fanOut(items(), work, { window: 2, signal, semaphores: [sem()], pool: pool() as never }),
    ],
    [
      'fanOut(items, fn, { signal, settle: true }): the abort is not an item result',
      (signal) => fanOut(items(), work, { window: 2, signal, settle: true }),
    ],
    [
      'fanOutIterable(...).next() with { signal }',
      (signal) =>
        fanOutIterable(items(), work, { window: 2, signal, semaphores: [sem()] })
          [Symbol.asyncIterator]()
          .next(),
    ],
  ],
  inherited: [
    ['fanOut(items, fn, { window: 1 })', [...FAN_OUT, 'settle'], () => fanOut([1], noop, { window: 1 })],
    [
      'fanOutIterable(items, fn, { window: 1 })',
      [...FAN_OUT, 'ordered'],
      () => fanOutIterable([1], noop, { window: 1 }),
    ],
  ],
};

const registryTable: Table = {
  sync: [
    ...optionsCases('new TaskRegistry', (v) => new TaskRegistry(v as never)),
    ...strictCases(
      'new TaskRegistry',
      (v) => new TaskRegistry(v as never),
      ['name', 'onError'],
      ['nmae', 'name'],
    ),
    ...stringCases('new TaskRegistry', 'options.name', (v) => new TaskRegistry({ name: v as never })),
    ...functionCases(
      'new TaskRegistry',
      'options.onError',
      (v) => new TaskRegistry({ onError: v as never }),
      false,
    ),
    // spawn(name, fn, options): fn is never called
    ...typeCases(
      'spawn',
      'name',
      (v) => registry().spawn(v as never, work),
      [...notStrings, [undefined, 'undefined']],
      'a string',
    ),
    ...functionCases('spawn', 'fn', (v) => registry().spawn('task', v as never)),
    [
      'spawn: arguments swapped, spawn(fn, name)',
      () => registry().spawn(work as never, 'task' as never),
      TypeError,
      /^name must be a string; received function work$/,
    ],
    ...optionsCases('spawn', (v) => registry().spawn('task', work, v as never)),
    ...strictCases(
      'spawn',
      (v) => registry().spawn('task', work, v as never),
      ['timeout'],
      ['timout', 'timeout'],
    ),
    ...numberCases(
      'spawn',
      (v) => registry().spawn('task', work, { timeout: v as number }),
      timeoutRanges,
      'options.timeout',
    ),
  ],
  async: [
    // shutdown(options): nothing is shut down
    ...optionsCases('shutdown', (v) => registry().shutdown(v as never)),
    ...numberCases(
      'shutdown',
      (v) => registry().shutdown({ timeout: v as number }),
      timeoutRanges,
      'options.timeout',
    ),
    ...strictCases('shutdown', (v) => registry().shutdown(v as never), ['timeout'], ['Timeout', 'timeout']),
  ],
  aborted: [],
  inherited: [
    ['new TaskRegistry({})', ['name', 'onError'], () => new TaskRegistry({})],
    ['spawn(name, fn, {})', ['timeout'], () => new TaskRegistry().spawn('task', noop, {}).done],
    ['shutdown({})', ['timeout'], () => new TaskRegistry().shutdown({})],
  ],
};

const RESOURCE =
  'a net/http Server, a pool, TaskRegistry, BoundedQueue or its consumer, RedisSemaphore or inspect watcher, or have Symbol.asyncDispose, close(), quit(), stop(), shutdown() or Symbol.dispose';
const closable = { close() {} };

const lifecycleTable: Table = {
  sync: [
    ...optionsCases('new Lifecycle', (v) => new Lifecycle(v as never)),
    ...strictCases(
      'new Lifecycle',
      (v) => new Lifecycle(v as never),
      ['name', 'timeout', 'onError'],
      ['timout', 'timeout'],
    ),
    ...stringCases('new Lifecycle', 'options.name', (v) => new Lifecycle({ name: v as never })),
    ...numberCases(
      'new Lifecycle',
      (v) => new Lifecycle({ timeout: v as number }),
      [...timeoutRanges, [Number.POSITIVE_INFINITY, 'Infinity']], // a budget must be finite
      'options.timeout',
    ),
    ...functionCases(
      'new Lifecycle',
      'options.onError',
      (v) => new Lifecycle({ onError: v as never }),
      false,
    ),
    // use(resource, options): nothing is registered
    ...typeCases(
      'use',
      'resource',
      (v) => lifecycle().use(v as never),
      [
        [undefined, 'undefined'],
        [null, 'null'],
        [5, '5'],
        ['server', '"server"'],
        [{}, 'an object'],
        [{ close: 'now' }, 'an object'],
        [new Map(), 'an instance of Map'],
      ],
      RESOURCE,
    ),
    [
      'use: a function',
      () => lifecycle().use(work as never),
      TypeError,
      new RegExp(
        `^resource must be ${esc(RESOURCE)} \\(to run a function at shutdown, use defer\\(\\)\\); received function work$`,
      ),
    ],
    ...optionsCases('use', (v) => lifecycle().use(closable, v as never)),
    ...strictCases('use', (v) => lifecycle().use(closable, v as never), ['name'], ['nmae', 'name']),
    ...stringCases('use', 'options.name', (v) => lifecycle().use(closable, { name: v as never })),
    // defer(fn, options): fn is never called
    ...functionCases('defer', 'fn', (v) => lifecycle().defer(v as never)),
    ...optionsCases('defer', (v) => lifecycle().defer(work, v as never)),
    ...strictCases('defer', (v) => lifecycle().defer(work, v as never), ['name'], ['Name', 'name']),
    ...stringCases('defer', 'options.name', (v) => lifecycle().defer(work, { name: v as never })),
    // handleSignals(options): no listener is installed
    ...optionsCases('handleSignals', (v) => lifecycle().handleSignals(v as never)),
    ...strictCases(
      'handleSignals',
      (v) => lifecycle().handleSignals(v as never),
      ['signals', 'exit'],
      ['signal', 'signals'],
    ),
    ...typeCases(
      'handleSignals',
      'options.signals',
      (v) => lifecycle().handleSignals({ signals: v as never }),
      [
        ['SIGTERM', '"SIGTERM"'],
        [null, 'null'],
        [{}, 'an object'],
        [5, '5'],
      ],
      'an array of signal names',
    ),
    [
      'handleSignals: options.signals = []',
      () => lifecycle().handleSignals({ signals: [] }),
      RangeError,
      /^options\.signals must name at least one signal; received an empty array$/,
    ],
    ...(
      [
        ['SIGTERM', 'SIGNOPE', '"SIGNOPE"'],
        ['SIGTERM', 'sigterm', '"sigterm"'],
        ['SIGTERM', 'SIGKILL', '"SIGKILL"'],
        ['SIGTERM', 'SIGSTOP', '"SIGSTOP"'],
        ['SIGTERM', 15, '15'],
      ] as const
    ).map(
      ([ok, bad, shown]): Case => [
        `handleSignals: options.signals = ["${ok}", ${shown}]`,
        () => lifecycle().handleSignals({ signals: [ok, bad as never] }),
        RangeError,
        exact('options.signals[1]', 'a signal a process can handle, e.g. "SIGTERM"', shown),
      ],
    ),
    ...functionCases(
      'handleSignals',
      'options.exit',
      (v) => lifecycle().handleSignals({ exit: v as never }),
      false,
    ),
  ],
  async: [],
  aborted: [],
  inherited: [
    ['new Lifecycle({})', ['name', 'timeout', 'onError'], () => new Lifecycle({})],
    ['use(resource, {})', ['name'], () => new Lifecycle().use(closable, {})],
    ['defer(fn, {})', ['name'], () => new Lifecycle().defer(noop, {})],
    [
      'handleSignals({})',
      ['signals', 'exit'],
      () => new Lifecycle().handleSignals({}),
      (remove) => (remove as () => void)(),
    ],
  ],
};

const piscinaTable: Table = {
  sync: [
    ...typeCases(
      'new PiscinaPool',
      'piscina',
      (v) => new PiscinaPool(v as never),
      [
        [null, 'null'],
        [undefined, 'undefined'],
        [5, '5'],
        [noop, 'function noop'], // e.g. the Piscina class instead of an instance
      ],
      'a Piscina instance',
    ),
    [
      'new PiscinaPool: piscina without run()',
      () => new PiscinaPool({} as never),
      TypeError,
      /^piscina\.run must be a function; received undefined$/,
    ],
    [
      'new PiscinaPool: piscina without destroy()',
      () => new PiscinaPool({ run: noop } as never),
      TypeError,
      /^piscina\.destroy must be a function; received undefined$/,
    ],
    [
      'new PiscinaPool: piscina without options (and no concurrency given)',
      () => new PiscinaPool({ run: noop, destroy: noop } as never),
      TypeError,
      /^piscina\.options must be an object; received undefined$/,
    ],
    [
      'new PiscinaPool: piscina.options.maxThreads = 0',
      () => new PiscinaPool(fakePiscina({ maxThreads: 0, concurrentTasksPerWorker: 1 })),
      RangeError,
      /^piscina\.options\.maxThreads must be a positive integer; received 0$/,
    ],
    [
      'new PiscinaPool: piscina.options.concurrentTasksPerWorker = "2"',
      () => new PiscinaPool(fakePiscina({ maxThreads: 1, concurrentTasksPerWorker: '2' })),
      TypeError,
      /^piscina\.options\.concurrentTasksPerWorker must be a positive integer; received "2"$/,
    ],
    ...poolOptionCases('new PiscinaPool', (o) => new PiscinaPool(fakePiscina(), o as never)),
    ...numberCases(
      'new PiscinaPool',
      (v) => new PiscinaPool(fakePiscina(), { concurrency: v as number }),
      positiveIntRanges,
      'options.concurrency',
    ),
    ...strictCases('new PiscinaPool', (v) => new PiscinaPool(fakePiscina(), v as never), WORKER_POOL, [
      'maxqueue',
      'maxQueue',
    ]),
  ],
  async: [
    [
      'run: input = a function (it cannot be sent to a worker thread)',
      () => piscinaPool().run(work),
      TypeError,
      /^input must be data a worker thread can receive, not a function; received function work$/,
    ],
    ...poolMethodCases(piscinaPool, { n: 1 }),
    ...stringCases('run', 'options.name', (v) => piscinaPool().run({ n: 1 }, { name: v })),
    ...typeCases(
      'run',
      'options.transferList',
      (v) => piscinaPool().run({ n: 1 }, { transferList: v }),
      [
        [5, '5'],
        [null, 'null'],
        [{}, 'an object'],
        [noop, 'function noop'],
        ['list', '"list"'],
      ],
      'an array',
    ),
    ...poolStrictCases(piscinaPool, { n: 1 }, [...RUN, 'name', 'transferList']),
  ],
  aborted: poolAbortCases(piscinaPool, { n: 1 }),
  inherited: poolInheritedCases(
    'PiscinaPool(piscina)',
    () => new PiscinaPool(idlePiscina(), {}) as unknown as AnyPool,
    { n: 1 },
    {
      pool: WORKER_POOL,
      run: [...RUN, 'name', 'transferList'],
    },
  ),
};

const pqueueTable: Table = {
  sync: [
    ...typeCases(
      'new PQueuePool',
      'queue',
      (v) => new PQueuePool(v as never),
      [
        [null, 'null'],
        [undefined, 'undefined'],
        [5, '5'],
        [PQueue, 'function PQueue'], // the class instead of an instance
      ],
      'a PQueue instance',
    ),
    [
      'new PQueuePool: queue without add()',
      () => new PQueuePool({} as never),
      TypeError,
      /^queue\.add must be a function; received undefined$/,
    ],
    [
      'new PQueuePool: queue without size and pending',
      () => new PQueuePool({ add: noop } as never),
      TypeError,
      /^queue must be a PQueue instance; received an object$/,
    ],
    ...poolOptionCases('new PQueuePool', (o) => new PQueuePool(new PQueue(), o as never)),
    ...strictCases('new PQueuePool', (o) => new PQueuePool(new PQueue(), o as never), POOL, [
      'asynccontext',
      'asyncContext',
    ]),
    ...numberCases(
      'concurrency setter',
      (v) => {
        pqueuePool().concurrency = v as number;
      },
      limitRanges,
      'concurrency',
    ),
  ],
  async: [
    ...functionCases('run', 'task', (v) => pqueuePool().run(v)),
    ...poolMethodCases(pqueuePool, work),
    ...poolStrictCases(pqueuePool, work),
  ],
  aborted: poolAbortCases(pqueuePool, work),
  inherited: poolInheritedCases('PQueuePool(queue)', () => new PQueuePool(sharedQueue, {}), noop, {
    pool: POOL,
    run: RUN,
  }),
};

const limitTable: Table = {
  sync: [
    ...typeCases(
      'new LimitPool',
      'limit',
      (v) => new LimitPool(v as never),
      [
        [null, 'null'],
        [undefined, 'undefined'],
        [5, '5'],
        [{}, 'an object'],
      ],
      'a function',
    ),
    [
      'new LimitPool: pLimit itself instead of pLimit(n)',
      () => new LimitPool(pLimit as never),
      TypeError,
      /^limit must be a limiter made by pLimit\(concurrency\); received function pLimit$/,
    ],
    ...poolOptionCases('new LimitPool', (o) => new LimitPool(pLimit(1), o as never)),
    ...strictCases('new LimitPool', (o) => new LimitPool(pLimit(1), o as never), POOL, [
      'onerror',
      'onError',
    ]),
    ...numberCases(
      'concurrency setter',
      (v) => {
        limitPool().concurrency = v as number;
      },
      limitRanges,
      'concurrency',
    ),
  ],
  async: [
    ...functionCases('run', 'task', (v) => limitPool().run(v)),
    ...poolMethodCases(limitPool, work),
    ...poolStrictCases(limitPool, work),
  ],
  aborted: poolAbortCases(limitPool, work),
  inherited: poolInheritedCases('LimitPool(limit)', () => new LimitPool(sharedLimit, {}), noop, {
    pool: POOL,
    run: RUN,
  }),
};

const leaseRanges: Array<[unknown, string]> = [
  [29, '29'],
  [0, '0'],
  [-1, '-1'],
  [30.5, '30.5'],
  [Number.NaN, 'NaN'],
  [Number.POSITIVE_INFINITY, 'Infinity'],
  [2 ** 53, String(2 ** 53)],
];

const redisOptions = (extra: object) => ({ key: 'bad-input', permits: 2, ...extra });

const redisTable: Table = {
  sync: [
    ...typeCases(
      'new RedisSemaphore',
      'client',
      (v) => new RedisSemaphore(v as never, redisOptions({})),
      [
        [null, 'null'],
        [undefined, 'undefined'],
        [5, '5'],
        ['redis://127.0.0.1', '"redis://127.0.0.1"'],
        [{}, 'an object'],
        [noop, 'function noop'],
        [{ evalsha: noop }, 'an object'],
      ],
      'an ioredis client',
    ),
    [
      'new RedisSemaphore: options = undefined',
      () => new RedisSemaphore(dummyRedis(), undefined as never),
      TypeError,
      /^options\.key must be a non-empty string; received undefined$/,
    ],
    ...optionsCases('new RedisSemaphore', (v) => new RedisSemaphore(dummyRedis(), v as never)),
    ...strictCases(
      'new RedisSemaphore',
      (v) => new RedisSemaphore(dummyRedis(), v as never),
      REDIS,
      ['leasems', 'leaseMs'],
      {
        key: 'bad-input',
        permits: 2,
      },
    ),
    ...stringCases(
      'new RedisSemaphore',
      'options.key',
      (v) => new RedisSemaphore(dummyRedis(), redisOptions({ key: v })),
    ),
    ...typeCases(
      'new RedisSemaphore',
      'options.key',
      (v) => new RedisSemaphore(dummyRedis(), redisOptions({ key: v })),
      [
        ['', '""'],
        [undefined, 'undefined'],
      ],
      'a non-empty string',
    ),
    ...numberCases(
      'new RedisSemaphore',
      (v) => new RedisSemaphore(dummyRedis(), redisOptions({ permits: v })),
      positiveIntRanges,
      'options.permits',
    ),
    [
      'new RedisSemaphore: options.permits = undefined',
      () => new RedisSemaphore(dummyRedis(), { key: 'bad-input' } as never),
      TypeError,
      /^options\.permits must be a positive integer; received undefined$/,
    ],
    ...numberCases(
      'new RedisSemaphore',
      (v) => new RedisSemaphore(dummyRedis(), redisOptions({ leaseMs: v })),
      leaseRanges,
      'options.leaseMs',
    ),
    ...stringCases(
      'new RedisSemaphore',
      'options.name',
      (v) => new RedisSemaphore(dummyRedis(), redisOptions({ name: v })),
    ),
    ...functionCases(
      'new RedisSemaphore',
      'options.onError',
      (v) => new RedisSemaphore(dummyRedis(), redisOptions({ onError: v })),
      false,
    ),
  ],
  async: [
    ...numberCases(
      'acquire',
      (v) => redisSem().acquire({ weight: v as number }),
      weightRanges,
      'options.weight',
    ),
    [
      'acquire: weight above permits',
      () => redisSem().acquire({ weight: 3 }),
      RangeError,
      /^options\.weight must be <= the semaphore's 2 permits; received 3$/,
    ],
    ...numberCases(
      'acquire',
      (v) => redisSem().acquire({ timeout: v as number }),
      timeoutRanges,
      'options.timeout',
    ),
    ...signalCases('acquire', 'options.signal', (v) => redisSem().acquire({ signal: v as never })),
    ...optionsCases('acquire', (v) => redisSem().acquire(v as never)),
    ...strictCases('acquire', (v) => redisSem().acquire(v as never), ACQUIRE, ['wieght', 'weight']),
    // acquireIfFree must ask Redis, so it is async: a bad weight rejects before any command.
    ...numberCases('acquireIfFree', (v) => redisSem().acquireIfFree(v as number), weightRanges, 'weight'),
    [
      'acquireIfFree: weight above permits',
      () => redisSem().acquireIfFree(3),
      RangeError,
      /^weight must be <= the semaphore's 2 permits; received 3$/,
    ],
    ...functionCases('run', 'fn', (v) => redisSem().run(v as never)),
    ...numberCases(
      'run',
      (v) => redisSem().run(work, { weight: v as number }),
      weightRanges,
      'options.weight',
    ),
    ...numberCases(
      'run',
      (v) => redisSem().run(work, { timeout: v as number }),
      timeoutRanges,
      'options.timeout',
    ),
    ...signalCases('run', 'options.signal', (v) => redisSem().run(work, { signal: v as never })),
    ...optionsCases('run', (v) => redisSem().run(work, v as never)),
    ...strictCases('run', (v) => redisSem().run(work, v as never), ACQUIRE, ['timout', 'timeout']),
  ],
  aborted: [
    ['acquire({ signal })', (signal) => redisSem().acquire({ signal })],
    ['acquire({ signal, timeout: 0 })', (signal) => redisSem().acquire({ signal, timeout: 0 })],
    ['acquire({ signal, weight: 2 })', (signal) => redisSem().acquire({ signal, weight: 2 })],
    ['run(fn, { signal })', (signal) => redisSem().run(work, { signal })],
  ],
  // An aborted signal of their own makes acquire and run reject before any Redis command; an
  // inherited option read on the way would reject with a TypeError instead.
  inherited: [
    ['new RedisSemaphore(client, { key, permits })', REDIS, () => redisSem()],
    ['acquire({ signal: aborted })', ACQUIRE, () => redisSem().acquire({ signal: aborted() })],
    ['run(fn, { signal: aborted })', ACQUIRE, () => redisSem().run(noop, { signal: aborted() })],
  ],
};

const durationRanges: Array<[unknown, string]> = [
  [0, '0'],
  [-1, '-1'],
  [Number.NaN, 'NaN'],
  [Number.POSITIVE_INFINITY, 'Infinity'],
  [Number.NEGATIVE_INFINITY, '-Infinity'],
];
const requiredDuration = (name: string, option: string, call: (value: unknown) => unknown): Case[] => [
  ...numberCases(name, call, durationRanges, option),
  [
    `${name}: ${option} = undefined`,
    () => call(undefined),
    TypeError,
    exact(option, 'a finite number of milliseconds > 0', 'undefined'),
  ],
];

// unwedge/inspect: a watcher given bad options starts nothing (the tripwire fails this file if a
// timer or a worker is left behind).
const inspectTable: Table = {
  sync: [
    ...optionsCases('configure', (v) => configure(v as never)),
    ...strictCases(
      'configure',
      (v) => configure(v as never),
      ['captureOrigins', 'recordAges'],
      ['captureorigins', 'captureOrigins'],
    ),
    ...booleanCases('configure', 'options.captureOrigins', (v) =>
      configure({ captureOrigins: v as boolean }),
    ),
    ...booleanCases('configure', 'options.recordAges', (v) => configure({ recordAges: v as boolean })),
    ...optionsCases('watchStalls', (v) => watchStalls(v as never)),
    ...strictCases(
      'watchStalls',
      (v) => watchStalls(v as never),
      ['threshold', 'interval', 'onStall', 'filter', 'limit', 'redact'],
      ['treshold', 'threshold'],
      {
        threshold: 10,
      },
    ),
    ...requiredDuration('watchStalls', 'options.threshold', (v) => watchStalls({ threshold: v as number })),
    ...numberCases(
      'watchStalls',
      (v) => watchStalls({ threshold: 10, interval: v as number }),
      durationRanges,
      'options.interval',
    ),
    ...functionCases(
      'watchStalls',
      'options.onStall',
      (v) => watchStalls({ threshold: 10, onStall: v as never }),
      false,
    ),
    ...functionCases(
      'watchStalls',
      'options.filter',
      (v) => watchStalls({ threshold: 10, filter: v as never }),
      false,
    ),
    ...optionsCases('watchEventLoop', (v) => watchEventLoop(v as never)),
    ...strictCases(
      'watchEventLoop',
      (v) => watchEventLoop(v as never),
      ['threshold', 'repeat', 'fd', 'onBlock'],
      ['onblock', 'onBlock'],
      {
        threshold: 10,
      },
    ),
    ...requiredDuration('watchEventLoop', 'options.threshold', (v) =>
      watchEventLoop({ threshold: v as number }),
    ),
    ...numberCases(
      'watchEventLoop',
      (v) => watchEventLoop({ threshold: 10, repeat: v as number }),
      durationRanges,
      'options.repeat',
    ),
    ...numberCases(
      'watchEventLoop',
      (v) => watchEventLoop({ threshold: 10, fd: v as number }),
      [
        [-1, '-1'],
        [1.5, '1.5'],
        [Number.NaN, 'NaN'],
        [Number.POSITIVE_INFINITY, 'Infinity'],
      ],
      'options.fd',
    ),
    ...functionCases(
      'watchEventLoop',
      'options.onBlock',
      (v) => watchEventLoop({ threshold: 10, onBlock: v as never }),
      false,
    ),
    ...typeCases(
      'dumpOnSignal',
      'signal',
      (v) => dumpOnSignal(v as never),
      [
        [5, '5'],
        [null, 'null'],
        [noop, 'function noop'],
      ],
      'a signal name',
    ),
    ...optionsCases('dumpOnSignal', (v) => dumpOnSignal('SIGUSR2', v as never)),
    ...strictCases(
      'dumpOnSignal',
      (v) => dumpOnSignal('SIGUSR2', v as never),
      ['write', 'limit', 'redact'],
      ['writ', 'write'],
    ),
    // Issue 19: how much a dump lists, what it hides, and who the route answers.
    ...numberCases(
      'watchStalls',
      (v) => watchStalls({ threshold: 10, limit: v as number }),
      countRanges,
      'options.limit',
    ),
    ...functionCases(
      'watchStalls',
      'options.redact',
      (v) => watchStalls({ threshold: 10, redact: v as never }),
      false,
    ),
    ...numberCases(
      'dumpOnSignal',
      (v) => dumpOnSignal('SIGUSR2', { limit: v as number }),
      countRanges,
      'options.limit',
    ),
    ...functionCases(
      'dumpOnSignal',
      'options.redact',
      (v) => dumpOnSignal('SIGUSR2', { redact: v as never }),
      false,
    ),
    ...optionsCases('inspect', (v) => inspect(v as never)),
    ...strictCases('inspect', (v) => inspect(v as never), ['limit', 'redact'], ['limt', 'limit']),
    ...numberCases('inspect', (v) => inspect({ limit: v as number }), countRanges, 'options.limit'),
    ...functionCases('inspect', 'options.redact', (v) => inspect({ redact: v as never }), false),
    ...optionsCases('createInspectHandler', (v) => createInspectHandler(v as never)),
    ...strictCases(
      'createInspectHandler',
      (v) => createInspectHandler(v as never),
      ['allowedHosts', 'token', 'limit', 'maxLimit', 'redact'],
      ['tokn', 'token'],
    ),
    ...numberCases(
      'createInspectHandler',
      (v) => createInspectHandler({ limit: v as number }),
      countRanges,
      'options.limit',
    ),
    ...numberCases(
      'createInspectHandler',
      (v) => createInspectHandler({ maxLimit: v as number }),
      countRanges,
      'options.maxLimit',
    ),
    ...functionCases(
      'createInspectHandler',
      'options.redact',
      (v) => createInspectHandler({ redact: v as never }),
      false,
    ),
    ...typeCases(
      'createInspectHandler',
      'options.token',
      (v) => createInspectHandler({ token: v as never }),
      [
        ['', '""'],
        [42, '42'],
        [null, 'null'],
      ],
      'a non-empty string',
    ),
    ...typeCases(
      'createInspectHandler',
      'options.allowedHosts',
      (v) => createInspectHandler({ allowedHosts: v as never }),
      [
        ['localhost', '"localhost"'],
        [[''], 'an array'],
        [[1], 'an array'],
        [null, 'null'],
      ],
      'an array of host names',
    ),
    ...functionCases(
      'dumpOnSignal',
      'options.write',
      (v) => dumpOnSignal('SIGUSR2', { write: v as never }),
      false,
    ),
  ],
  async: [],
  aborted: [],
  inherited: [
    ['configure({})', ['captureOrigins', 'recordAges'], () => configure({})],
    [
      'watchStalls({ threshold: 10 })',
      ['threshold', 'interval', 'onStall', 'filter', 'limit', 'redact'],
      () => watchStalls({ threshold: 10 }),
      (watcher) => (watcher as Watcher).stop(),
    ],
    [
      'watchEventLoop({ threshold: 10 })',
      ['threshold', 'repeat', 'fd', 'onBlock'],
      () => watchEventLoop({ threshold: 10 }),
      (watcher) => (watcher as EventLoopWatcher).stop(),
    ],
    ['inspect({})', ['limit', 'redact'], () => inspect({})],
    [
      'createInspectHandler({})',
      ['allowedHosts', 'token', 'limit', 'maxLimit', 'redact'],
      () => createInspectHandler({}),
    ],
    [
      'dumpOnSignal(signal, {})',
      ['write', 'limit', 'redact'],
      () => dumpOnSignal('SIGUSR2', {}),
      (stop) => (stop as () => void)(),
    ],
  ],
};

const tables: Record<string, Table> = {
  Semaphore: semaphoreTable,
  withTimeout: withTimeoutTable,
  BoundedQueue: queueTable,
  WorkerPool: workerPoolTable,
  'fanOut / fanOutIterable': fanOutTable,
  TaskRegistry: registryTable,
  Lifecycle: lifecycleTable,
  'PiscinaPool (unwedge/piscina)': piscinaTable,
  'PQueuePool (unwedge/p-queue)': pqueueTable,
  'LimitPool (unwedge/p-limit)': limitTable,
  'RedisSemaphore (unwedge/redis)': redisTable,
  'inspect (unwedge/inspect)': inspectTable,
};

// --- the runners --------------------------------------------------------------------------------

/** What a promise did by the time any timer could fire: fulfilled, rejected, or nothing yet. */
async function atOnce(promise: Promise<unknown>): Promise<{ outcome: string; value?: unknown }> {
  return Promise.race([
    promise.then(
      (value) => ({ outcome: 'fulfilled', value }),
      (value: unknown) => ({ outcome: 'rejected', value }),
    ),
    new Promise<{ outcome: string }>((resolve) => setImmediate(() => resolve({ outcome: 'still pending' }))),
  ]);
}

// What polluted() sets: a value no option accepts, so reading one is a TypeError.
const POISON = Symbol('inherited');

/**
 * Calls `call` while `Object.prototype` has a bad value at each of `keys` (as prototype pollution
 * leaves it), and restores it before returning. Not at `signal`: Node's own addEventListener reads
 * `signal` from its options object, inherited or not, so that one breaks every `{ once: true }`
 * listener in the process (ours, p-queue's), whatever unwedge's options checks do.
 */
function polluted<T>(keys: readonly string[], call: () => T): T {
  const proto = Object.prototype as Record<string, unknown>;
  keys = keys.filter((key) => key !== 'signal');
  for (const key of keys) proto[key] = POISON;
  try {
    return call();
  } finally {
    for (const key of keys) delete proto[key];
  }
}

/** Calls `call`, which must not throw, and returns the promise it must return. */
function promiseOf(call: () => unknown): Promise<unknown> {
  let result: unknown;
  expect(() => {
    result = call();
  }).not.toThrow();
  expect(result).toBeInstanceOf(Promise);
  return result as Promise<unknown>;
}

for (const [primitive, table] of Object.entries(tables)) {
  describe(primitive, () => {
    if (table.sync.length > 0) {
      describe('synchronous calls throw at once', () => {
        test.each(table.sync)('%s', (_label, call, errorClass, message, cause) => {
          let thrown: unknown;
          try {
            call();
          } catch (error) {
            thrown = error;
          }
          expect(thrown).toBeInstanceOf(errorClass);
          expect((thrown as Error).message).toMatch(message);
          if (cause !== undefined) expect((thrown as Error).cause).toBe(cause);
        });
      });
    }
    if (table.async.length > 0) {
      describe('async calls reject at once and never throw synchronously', () => {
        test.each(table.async)('%s', async (_label, call, errorClass, message, cause) => {
          const { outcome, value } = await atOnce(promiseOf(call));
          expect(outcome).toBe('rejected');
          expect(value).toBeInstanceOf(errorClass);
          expect((value as Error).message).toMatch(message);
          if (cause !== undefined) expect((value as Error).cause).toBe(cause);
        });
      });
    }
    if (table.aborted.length > 0) {
      describe('an already-aborted signal rejects at once with exactly its reason, and nothing starts', () => {
        test.each(table.aborted)('%s', async (label, call) => {
          const controller = new AbortController();
          const reason = new Error(`the caller of ${label} went away`);
          controller.abort(reason);
          const { outcome, value } = await atOnce(promiseOf(() => call(controller.signal)));
          expect(outcome).toBe('rejected');
          expect(value).toBe(reason);
        });
      });
    }
    if (table.inherited.length > 0) {
      describe('options set on Object.prototype are never read', () => {
        test.each(table.inherited)('%s', async (_label, keys, call, dispose) => {
          // A throw here fails the test: an inherited key was read and found wrong.
          const { outcome, value } = await atOnce(Promise.resolve(polluted([...keys, 'timout'], call)));
          if (outcome === 'rejected') {
            expect(value).not.toBeInstanceOf(TypeError);
            expect(value).not.toBeInstanceOf(RangeError);
          } else {
            expect(outcome).toBe('fulfilled');
            await dispose?.(value);
          }
        });
      });
    }
  });
}

// --- what the table cannot say -----------------------------------------------------------------

describe('calls that take a signal but do not return a promise', () => {
  test('consume with an already-aborted signal takes no item, calls no handler, and is done at once', async () => {
    const q = queue();
    const controller = new AbortController();
    controller.abort(new Error('stopped before it started'));
    const consumer = q.consume(work, { signal: controller.signal });
    expect(await atOnce(consumer.done)).toEqual({ outcome: 'fulfilled', value: undefined });
  });

  test('fanOutIterable with an already-aborted signal rejects its first next() with the reason and reads no input', async () => {
    const controller = new AbortController();
    const reason = new Error('gone');
    controller.abort(reason);
    const iterable = fanOutIterable(items(), work, { window: 1, signal: controller.signal });
    const iterator = iterable[Symbol.asyncIterator]();
    expect(await atOnce(iterator.next())).toEqual({ outcome: 'rejected', value: reason });
    expect(await atOnce(iterator.next())).toEqual({
      outcome: 'fulfilled',
      value: { done: true, value: undefined },
    });
  });
});

describe('a bad call changes nothing', () => {
  test('Permit.release() twice returns the permits once', async () => {
    const s = sem();
    const permit = await s.acquire({ weight: 2 });
    permit.release();
    permit.release();
    expect(s.available).toBe(2);
    const again = s.tryAcquire(2);
    expect(again).toBeDefined();
    again?.release();
  });

  test('a consumer whose stop() got bad options keeps consuming', async () => {
    const q = new BoundedQueue<string>({ capacity: 1 });
    const seen: string[] = [];
    const consumer = q.consume((item) => {
      seen.push(item);
    });
    await expect(consumer.stop({ timeout: -1 })).rejects.toThrow(RangeError);
    await q.put('after');
    await q.join({ timeout: 1_000 });
    expect(seen).toEqual(['after']);
    await consumer.stop({ timeout: 1_000 });
  });

  test('a pool whose concurrency setter got a bad value keeps its limit', () => {
    const p = pool();
    expect(() => {
      p.concurrency = 0;
    }).toThrow(RangeError);
    expect(p.concurrency).toBe(1);
  });
});

describe('prototype pollution (issue 16)', () => {
  test('a timeout set on Object.prototype does not make pool.run time out', async () => {
    vi.useFakeTimers();
    const p = new WorkerPool({ concurrency: 1 });
    const proto = Object.prototype as { timeout?: unknown };
    proto.timeout = 1;
    try {
      const run = p.run(() => new Promise((resolve) => setTimeout(resolve, 50, 'done')), {
        signal: new AbortController().signal,
      });
      await vi.advanceTimersByTimeAsync(50);
      await expect(run).resolves.toBe('done');
    } finally {
      delete proto.timeout;
      vi.useRealTimers();
      await p.shutdown();
    }
  });
});

test('every primitive has a table, and the table is large', () => {
  const total = Object.values(tables).reduce(
    (n, t) => n + t.sync.length + t.async.length + t.aborted.length,
    0,
  );
  expect(Object.keys(tables)).toHaveLength(12);
  expect(total).toBeGreaterThan(700);
});

// configure(): what waits record (their start, their origin), and what ages and origins look like
// with it on and off.
import { describe, expect, test, vi } from 'vitest';
import { libraryRoots, originFrames } from '../../src/core/origins.js';
import { sinceDate } from '../../src/core/track.js';
import { dumpOnSignal } from '../../src/inspect/http.js';
import { configure, watchStalls } from '../../src/inspect/index.js';
import { Semaphore } from '../../src/semaphore/semaphore.js';
import { withTimeout } from '../../src/timeout.js';
import { find, flush, onFakeTimeWithDefaults } from '../support/inspect.js';
import { track } from '../support/promises.js';

onFakeTimeWithDefaults();

describe('configure: ages and origins', () => {
  test('with timing off, a wait has no start time: its age counts from first sight, as a lower bound', async () => {
    const sem = new Semaphore(1, { name: 'untimed-sem' });
    const held = await sem.acquire();
    const parked = track(sem.acquire());
    await vi.advanceTimersByTimeAsync(5_000);
    expect(find('semaphore', 'untimed-sem')!.waits).toMatchObject([{ age: 0, ageIsLowerBound: true }]);
    await vi.advanceTimersByTimeAsync(250);
    expect(find('semaphore', 'untimed-sem')!.waits).toMatchObject([{ age: 250, ageIsLowerBound: true }]);
    held.release();
    await flush();
    expect(parked.status).toBe('fulfilled');
    (parked.value as { release(): void }).release();
  });

  test('a stall watcher or a signal dump turns timing on while installed', async () => {
    const sem = new Semaphore(1, { name: 'timed-by-install' });
    const ages = () => find('semaphore', 'timed-by-install')!.waits.map((w) => [w.age, w.ageIsLowerBound]);
    const installs: Array<[string, () => () => void]> = [
      [
        'watchStalls',
        () => {
          const watcher = watchStalls({ threshold: 60_000, onStall: () => {} });
          return () => watcher.stop();
        },
      ],
      ['dumpOnSignal', () => dumpOnSignal('SIGUSR2', { write: () => {} })],
    ];
    for (const [label, install] of installs) {
      const held = await sem.acquire();
      const stop = install();
      const timed = sem.acquire();
      await vi.advanceTimersByTimeAsync(400);
      expect(ages(), label).toEqual([[400, false]]);
      stop();
      const untimed = sem.acquire();
      await vi.advanceTimersByTimeAsync(100);
      expect(ages(), label).toEqual([
        [500, false],
        [0, true],
      ]);
      held.release();
      await flush();
      (await timed).release();
      await flush();
      (await untimed).release();
      expect(ages(), label).toEqual([]);
    }
    // createInspectHandler turns timing on for good: tested in test/inspect/http.test.ts.
  });

  test('per-call work started with timing off has no start time either', async () => {
    const ac = new AbortController();
    const call = track(
      withTimeout(
        (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
        undefined,
        { signal: ac.signal },
      ),
    );
    await vi.advanceTimersByTimeAsync(5_000);
    expect(find('withTimeout')!.waits).toMatchObject([
      { what: 'operation', age: 0, ageIsLowerBound: true, timeout: undefined },
    ]);
    await vi.advanceTimersByTimeAsync(700);
    expect(find('withTimeout')!.waits).toMatchObject([{ age: 700, ageIsLowerBound: true }]);
    ac.abort(new Error('stop'));
    await flush();
    expect(call.status).toBe('rejected');
    expect(find('withTimeout')).toBeUndefined();
  });

  test('origins: off by default; with captureOrigins each wait names the line of this file that started it', async () => {
    const sem = new Semaphore(1, { name: 'origins' });
    const held = await sem.acquire();
    const plain = track(sem.acquire());
    configure({ captureOrigins: true });
    const traced = track(sem.acquire());
    const [a, b] = find('semaphore', 'origins')!.waits;
    expect(a!.origin).toEqual([]);
    expect(b!.origin.length).toBeGreaterThan(0);
    expect(b!.origin[0]).toMatch(/^at .*test\/inspect\/configure\.test\.ts:\d+:\d+\)?$/);
    // unwedge's own frames and Node's are trimmed
    expect(b!.origin.join('\n')).not.toMatch(/src\/(semaphore|core)|node:internal/);
    held.release();
    await flush();
    (plain.value as { release(): void }).release();
    await flush();
    expect(traced.status).toBe('fulfilled');
  });

  test('configure returns the configuration it replaced', () => {
    expect(configure({ captureOrigins: true })).toEqual({ captureOrigins: false, recordAges: false });
    expect(configure({ recordAges: true })).toEqual({ captureOrigins: true, recordAges: false });
    expect(configure({})).toEqual({ captureOrigins: true, recordAges: true });
    expect(configure({ captureOrigins: false, recordAges: false })).toEqual({
      captureOrigins: true,
      recordAges: true,
    });
  });

  test('configure rejects bad options', () => {
    expect(() => configure({ captureOrigins: 'yes' as unknown as boolean })).toThrow(
      new TypeError('options.captureOrigins must be a boolean; received "yes"'),
    );
    expect(() => configure({ recordAges: 1 as unknown as boolean })).toThrow(
      new TypeError('options.recordAges must be a boolean; received 1'),
    );
    expect(() => configure(null as unknown as object)).toThrow(TypeError);
  });

  test('libraryRoots finds unwedge from a frame of its source, its ESM bundle or its CJS bundle', () => {
    expect(libraryRoots('    at file:///work/x/src/core/track.ts:12:3')).toEqual([
      '/work/x/src/',
      'file:///work/x/src/',
    ]);
    expect(
      libraryRoots('    at Object.<anonymous> (/app/node_modules/unwedge/dist/index.cjs:100:20)'),
    ).toEqual(['/app/node_modules/unwedge/dist/', 'file:///app/node_modules/unwedge/dist/']);
    expect(libraryRoots('    at file:///app/node_modules/unwedge/dist/index.js:7:1')).toEqual([
      '/app/node_modules/unwedge/dist/',
      'file:///app/node_modules/unwedge/dist/',
    ]);
    expect(libraryRoots('    at new Promise (<anonymous>)')).toEqual([]);
    expect(libraryRoots('')).toEqual([]);
  });

  test("origin frames leave out Node's and unwedge's own, unless nothing else is left (unwedge bundled into the app)", () => {
    const [src] = libraryRoots(`    at ${new URL('../../src/core/track.ts', import.meta.url).href}:1:1`);
    const own = `at put (${src}queue.ts:215:14)`;
    const user = 'at handler (/app/server.js:42:7)';
    const stack = [
      'Error',
      `    ${own}`,
      '    at new Promise (<anonymous>)',
      `    ${user}`,
      '    at emit (node:events:519:28)',
      '    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)',
    ].join('\n');
    expect(originFrames({ stack })).toEqual([user]);
    expect(originFrames({ stack: `Error\n    ${own}` })).toEqual([own]);
    expect(originFrames(undefined)).toEqual([]);
    expect(originFrames({})).toEqual([]);
  });

  test('sinceDate converts a Date.now() stamp to the clock ages are measured on', () => {
    const start = Date.now();
    vi.advanceTimersByTime(1_500);
    expect(performance.now() - sinceDate(start)).toBe(1_500);
  });
});

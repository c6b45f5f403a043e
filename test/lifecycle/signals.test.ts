// handleSignals in process: the signal is emitted on `process` (as Node does when it arrives) and
// the exit hook records the code. A real SIGTERM to a real process is sigterm.test.ts.
import { afterEach, beforeEach, expect, type MockInstance, test, vi } from 'vitest';
import { ClosedError } from '../../src/errors.js';
import { Lifecycle } from '../../src/lifecycle/lifecycle.js';
import { deferred } from '../support/promises.js';

const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGUSR2'] as const;
let before: number[];
beforeEach(() => {
  before = SIGNALS.map((s) => process.listenerCount(s));
});
afterEach(() => {
  vi.restoreAllMocks();
  // Every test removes what it installed: by shutting down, or by calling the remover.
  expect(SIGNALS.map((s) => process.listenerCount(s))).toEqual(before);
});

function stderrSpy(): MockInstance {
  return vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
}

/** Resolves with the first exit code the hook is given. */
function exitHook() {
  const codes: number[] = [];
  const first = deferred<number>();
  const exit = (code: number) => {
    codes.push(code);
    first.resolve(code);
  };
  return { exit, codes, first: first.promise };
}

const signal = (name: NodeJS.Signals) => process.emit(name as 'SIGTERM', name);

test('SIGTERM runs the shutdown and exits with 0 when it is clean, writing nothing; the listeners are removed', async () => {
  const spy = stderrSpy();
  const life = new Lifecycle({ timeout: 1_000 });
  const close = vi.fn();
  life.use({ close });
  const { exit, first } = exitHook();
  life.handleSignals({ exit });
  expect(process.listenerCount('SIGTERM')).toBe(before[0]! + 1);
  expect(process.listenerCount('SIGINT')).toBe(before[1]! + 1);
  signal('SIGTERM');
  expect(await first).toBe(0);
  expect(close).toHaveBeenCalledTimes(1);
  expect(life.state).toBe('stopped');
  expect(spy).not.toHaveBeenCalled();
});

test('a shutdown that is not clean writes its report to stderr and exits with 1', async () => {
  const spy = stderrSpy();
  const life = new Lifecycle({ name: 'api', timeout: 50 });
  life.defer(() => new Promise(() => {}), { name: 'hangs' });
  const { exit, first } = exitHook();
  life.handleSignals({ exit });
  signal('SIGINT');
  expect(await first).toBe(1);
  const text = spy.mock.calls.map((c) => String(c[0])).join('');
  expect(text).toMatch(
    /^unwedge: lifecycle "api" shut down in \d+ ms \(budget 50 ms\): 1 resource left running/,
  );
  expect(text).toContain('still running in hangs: its stop had not settled');
});

test.each([
  ['SIGTERM', 143],
  ['SIGINT', 130],
] as const)('a second %s during the shutdown exits at once with %i', async (name, code) => {
  const life = new Lifecycle({ name: 'api', timeout: 10_000 });
  const gate = deferred();
  life.defer(() => gate.promise);
  const { exit, codes } = exitHook();
  life.handleSignals({ exit });
  signal(name);
  await new Promise((resolve) => setImmediate(resolve));
  expect(codes).toEqual([]); // still stopping
  const spy = stderrSpy();
  signal(name);
  expect(codes).toEqual([code]); // synchronously: nothing waited for
  // Said once, so that the exit does not look like a crash.
  expect(spy.mock.calls.map((c) => String(c[0]))).toEqual([
    `unwedge: lifecycle "api": ${name} again during its shutdown: exiting at once with code ${code}; what still ran is not reported\n`,
  ]);
  spy.mockRestore();
  gate.resolve();
  await life.shutdown();
  expect(codes).toEqual([code]); // the first signal's exit does not follow: the listeners are gone
});

test('a shutdown started by the app removes the listeners when it reports, without exiting', async () => {
  const life = new Lifecycle();
  const { exit, codes } = exitHook();
  life.handleSignals({ exit });
  await life.shutdown();
  expect(process.listenerCount('SIGTERM')).toBe(before[0]);
  expect(codes).toEqual([]);
});

test('a signal during a shutdown the app started waits for that shutdown, then exits', async () => {
  const life = new Lifecycle();
  const gate = deferred();
  const stops = vi.fn(() => gate.promise);
  life.defer(stops);
  const { exit, first } = exitHook();
  life.handleSignals({ exit });
  const report = life.shutdown();
  signal('SIGTERM');
  gate.resolve();
  expect(await first).toBe(0);
  expect(await report).toMatchObject({ clean: true });
  expect(stops).toHaveBeenCalledTimes(1);
});

test('options.signals replaces the default set; a second call replaces the first; the returned function removes them', async () => {
  const life = new Lifecycle();
  const { exit } = exitHook();
  life.handleSignals({ exit });
  const remove = life.handleSignals({ signals: ['SIGUSR2'], exit });
  expect(process.listenerCount('SIGTERM')).toBe(before[0]);
  expect(process.listenerCount('SIGUSR2')).toBe(before[2]! + 1);
  remove();
  remove(); // idempotent
  expect(process.listenerCount('SIGUSR2')).toBe(before[2]);
  await life.shutdown();
});

test('handleSignals after the shutdown started throws ClosedError and installs nothing', async () => {
  const life = new Lifecycle();
  const gate = deferred();
  life.defer(() => gate.promise);
  const report = life.shutdown();
  expect(() => life.handleSignals({ exit: () => {} })).toThrow(
    new ClosedError('lifecycle is stopping: cannot handleSignals()'),
  );
  gate.resolve();
  await report;
});

test('without an exit hook, the process exits through process.exit', async () => {
  const exit = vi.spyOn(process, 'exit').mockImplementation((() => {}) as never);
  const life = new Lifecycle();
  life.handleSignals();
  signal('SIGTERM');
  await vi.waitFor(() => expect(exit).toHaveBeenCalledWith(0));
  expect(life.state).toBe('stopped');
});

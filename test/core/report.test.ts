// Failures nobody awaits any more (src/core/report.ts): each is published on unwedge:task:error,
// then told once, to the primitive's hook or else to stderr; a hook that throws loses neither error.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { type FailureSource, failureLine, reportFailure } from '../../src/core/report.js';

const source: FailureSource = { kind: 'pool', name: 'feeds', task: 'job-7', who: 'pool "feeds"' };

let messages: unknown[];
const onMessage = (message: unknown) => messages.push(message);
let written: string[];

beforeEach(() => {
  messages = [];
  written = [];
  subscribe('unwedge:task:error', onMessage);
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  });
});
afterEach(() => {
  unsubscribe('unwedge:task:error', onMessage);
  vi.restoreAllMocks();
});

describe('reportFailure', () => {
  test('publishes the failure on unwedge:task:error, then calls the hook, and writes nothing to stderr', () => {
    const error = new Error('boom');
    const order: string[] = [];
    subscribe('unwedge:task:error', () => order.push('published'));
    const text = vi.fn(() => 'unused\n');
    reportFailure(source, error, () => order.push('hook'), text);
    expect(messages).toEqual([{ kind: 'pool', name: 'feeds', task: 'job-7', error }]);
    expect(order).toEqual(['published', 'hook']);
    expect(written).toEqual([]);
    expect(text).not.toHaveBeenCalled();
  });

  test('without a hook, writes text() to stderr once', () => {
    const error = new Error('boom');
    reportFailure(source, error, undefined, () => failureLine('pool "feeds": task failed', error));
    expect(messages).toHaveLength(1);
    expect(written).toHaveLength(1);
    expect(written[0]).toMatch(/^unwedge: pool "feeds": task failed: Error: boom\n {4}at /);
  });

  test("a hook that throws: the failure and the hook's error both go to stderr, in one write, exactly once", () => {
    const error = new Error('the task failed');
    const thrown = new Error('the hook failed');
    reportFailure(
      source,
      error,
      () => {
        throw thrown;
      },
      () => failureLine('pool "feeds": task failed', error),
    );
    expect(messages).toHaveLength(1);
    expect(written).toHaveLength(1);
    const [line] = written as [string];
    expect(line.startsWith('unwedge: pool "feeds": task failed: Error: the task failed\n')).toBe(true);
    expect(line).toContain(
      `unwedge: pool "feeds"'s onError threw while reporting it:\nError: the hook failed\n`,
    );
    expect(line.endsWith('\n')).toBe(true);
  });
});

describe('failureLine', () => {
  test('is `unwedge: <what>: <the error with its stack>` on its own line; a value that is not an Error is inspected', () => {
    expect(failureLine('queue "jobs" consumer: handler failed', 'just a string')).toBe(
      'unwedge: queue "jobs" consumer: handler failed: \'just a string\'\n',
    );
    expect(failureLine('x', new TypeError('bad'))).toMatch(/^unwedge: x: TypeError: bad\n {4}at [\s\S]*\n$/);
  });
});

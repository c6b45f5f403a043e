import { expect, test } from 'vitest';
import { ClosedError, DeadlockError, QueueFullError, TimeoutError, UnwedgeError } from '../src/index.js';

test.each([
  [TimeoutError, 'ERR_UNWEDGE_TIMEOUT'],
  [QueueFullError, 'ERR_UNWEDGE_QUEUE_FULL'],
  [ClosedError, 'ERR_UNWEDGE_CLOSED'],
  [DeadlockError, 'ERR_UNWEDGE_DEADLOCK'],
])('%o has its stable code, its class name and a cause', (ErrorClass, code) => {
  const cause = new Error('underlying');
  const error = new ErrorClass('it happened', { cause });
  expect(error).toBeInstanceOf(UnwedgeError);
  expect(error).toBeInstanceOf(Error);
  expect(error.code).toBe(code);
  expect(error.name).toBe(ErrorClass.name);
  expect(error.message).toBe('it happened');
  expect(error.cause).toBe(cause);
  expect(String(error)).toBe(`${ErrorClass.name}: it happened`);
  expect(error.stack).toContain('errors.test.ts');
});

test('UnwedgeError itself has the generic code', () => {
  const error = new UnwedgeError('x');
  expect(error.code).toBe('ERR_UNWEDGE');
  expect(error.name).toBe('UnwedgeError');
  expect(error.cause).toBeUndefined();
});

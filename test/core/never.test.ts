// The guard of every exhaustive switch (src/core/never.ts): reached only by a state no case knows,
// and then it says which.
import { expect, test } from 'vitest';
import { ignore, unreachable } from '../../src/core/never.js';

test('unreachable throws, naming the tag of a tagged state or the value itself', () => {
  expect(() => unreachable({ tag: 'half-open' } as never)).toThrow('unreachable state "half-open"');
  expect(() => unreachable('draining' as never)).toThrow('unreachable state "draining"');
});

test('ignore returns nothing and consumes a rejection', async () => {
  expect(ignore()).toBeUndefined();
  await expect(Promise.reject(new Error('consumed')).catch(ignore)).resolves.toBeUndefined();
});

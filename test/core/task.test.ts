// The running phase's async context (src/core/task.ts): a queued function starts in the context of
// the call that queued it, never in the context of whoever frees the slot
// (docs/hazards/lost-async-context.md).
import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, expect, test } from 'vitest';
import { callerContext, contextIsFree, newStore } from '../../src/core/task.js';

describe('callerContext', () => {
  test("runs a function later in the caller's AsyncLocalStorage store, not in the store of whoever runs it", () => {
    const store = new AsyncLocalStorage<string>();
    const context = store.run('caller', () => callerContext());
    const seen = store.run('whoever freed the slot', () => context.runInAsyncScope(() => store.getStore()));
    expect(seen).toBe('caller');
    expect(store.run('outside', () => store.getStore())).toBe('outside'); // and leaves the runner's store as it was
  });

  test('the store carries through the awaits of the function it runs', async () => {
    const store = new AsyncLocalStorage<string>();
    const context = store.run('caller', () => callerContext());
    const seen = await store.run('runner', () =>
      context.runInAsyncScope(async () => {
        await Promise.resolve();
        await new Promise((resolve) => setImmediate(resolve));
        return store.getStore();
      }),
    );
    expect(seen).toBe('caller');
  });
});

describe('contextIsFree', () => {
  test('is true exactly where AsyncLocalStorage is not the async_hooks one (which has _propagate)', () => {
    const hooks = typeof (AsyncLocalStorage.prototype as { _propagate?: unknown })._propagate === 'function';
    expect(contextIsFree).toBe(!hooks);
  });
});

describe('newStore', () => {
  test('is an AsyncLocalStorage that a name or defaultValue on Object.prototype does not reach', () => {
    const proto = Object.prototype as { name?: unknown; defaultValue?: unknown };
    proto.name = 42; // Node 24+'s constructor would throw on a name that is not a string
    proto.defaultValue = 'polluted';
    try {
      const store = newStore<string>();
      expect(store).toBeInstanceOf(AsyncLocalStorage);
      expect(store.getStore()).toBeUndefined();
      expect(store.run('mine', () => store.getStore())).toBe('mine');
    } finally {
      delete proto.name;
      delete proto.defaultValue;
    }
  });
});

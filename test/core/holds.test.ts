// Who holds which semaphore in the current async context (src/core/holds.ts): the wait-for graph
// behind deadlock detection (docs/hazards/nested-semaphore-deadlock.md).
import { describe, expect, test } from 'vitest';
import { heldHere, newHold, within } from '../../src/core/holds.js';

describe('holds', () => {
  test('outside any hold, nothing is held and a new hold has no parent', () => {
    const owner = {};
    expect(heldHere(owner)).toEqual([]);
    expect(newHold(owner, 1, 'run').parent).toBeUndefined();
  });

  test('a hold made inside another nests in it, and heldHere lists the holds on an owner innermost first', async () => {
    const [a, b] = [{ name: 'a' }, { name: 'b' }];
    const outer = newHold(a, 2, 'outer');
    const seen = await within(outer, async () => {
      const middle = newHold(b, 1, 'middle');
      expect(middle.parent).toBe(outer);
      return within(middle, async () => {
        await new Promise((resolve) => setImmediate(resolve)); // carried across awaits
        const inner = newHold(a, 1, 'inner');
        expect(inner.parent).toBe(middle);
        return within(inner, () => ({ a: heldHere(a), b: heldHere(b) }));
      });
    });
    expect(seen.a.map((h) => h.label)).toEqual(['inner', 'outer']);
    expect(seen.b.map((h) => h.label)).toEqual(['middle']);
    expect(heldHere(a)).toEqual([]); // back outside
  });

  test('a hold starts with no blocked waiters and keeps its weight and label', () => {
    const owner = {};
    expect(newHold(owner, 3, 'fanOut item 4')).toEqual({
      owner,
      weight: 3,
      label: 'fanOut item 4',
      parent: undefined,
      blocked: 0,
    });
  });

  test('within returns what fn returns, and a hold does not leak into a sibling context', () => {
    const owner = {};
    const hold = newHold(owner, 1, 'one');
    expect(within(hold, () => heldHere(owner).length)).toBe(1);
    expect(heldHere(owner)).toEqual([]);
  });
});

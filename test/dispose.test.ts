import { expect, test } from 'vitest';
import { Semaphore } from '../src/index.js';

test('using releases the permit at the end of the block', async () => {
  const sem = new Semaphore(1);
  {
    using permit = await sem.acquire();
    expect(permit.weight).toBe(1);
    expect(sem.available).toBe(0);
  }
  expect(sem.available).toBe(1);
  expect(String(Symbol.dispose)).toMatch(/dispose/);
});

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { whereIsItStuck } from '../../examples/where-is-it-stuck.js';

const example = fileURLToPath(new URL('../../examples/where-is-it-stuck.ts', import.meta.url));
const source = readFileSync(example, 'utf8').split('\n');

/** The source line an origin frame points at, e.g. `at fn (/…/where-is-it-stuck.ts:89:26)`. */
function lineOf(frame: string): string {
  const match = /where-is-it-stuck\.ts:(\d+):\d+\)?$/.exec(frame);
  expect(match, frame).not.toBeNull();
  return source[Number(match![1]) - 1]!.trim();
}

test('GET /debug/unwedge over real HTTP names the stuck connect and the stuck put, with ages and the awaits that started them', async () => {
  const result = await whereIsItStuck();

  // Both waits, with their ages (past the 200 ms stall threshold) and limits.
  expect(result.connect).toMatchObject({ state: 'waiting', ageIsLowerBound: false, timeout: 600_000 });
  expect(result.connect!.age).toBeGreaterThanOrEqual(200);
  expect(result.put).toMatchObject({ state: 'waiting', ageIsLowerBound: false });
  expect(result.put!.timeout).toBeUndefined(); // the hazard: a put with no timeout
  expect(result.put!.age).toBeGreaterThanOrEqual(200);

  // Their origins: the lines of the example's own awaits, innermost first.
  expect(lineOf(result.connect!.origin[0]!)).toMatch(/^const socket = await withTimeout\(/);
  expect(result.connect!.origin[0]).toMatch(/^at processUpload /);
  expect(lineOf(result.put!.origin[0]!)).toMatch(/^await queue\.put\(url\);/);
  for (const frame of [...result.connect!.origin, ...result.put!.origin]) {
    expect(frame).not.toMatch(/\/src\/|node:internal/);
  }

  // The text dump says the same.
  expect(result.dump).toMatch(
    /^withTimeout: 1 call running\n +\d+ ms {2}"db-connect" \(timeout 600000 ms\)\n {8}at processUpload \(.*where-is-it-stuck\.ts:\d+:\d+\)$/m,
  );
  expect(result.dump).toMatch(
    /^queue "transcribe-jobs": 1\/1 queued, .*1 put waiting\n +\d+ ms {2}put \(no timeout\)\n {8}at .*where-is-it-stuck\.ts:\d+:\d+\)$/m,
  );

  // The stall watcher had reported both before anyone looked, and their ends at shutdown.
  const stalled = result.stalls.filter((s) => s.phase === 'stalled');
  expect(stalled.map((s) => `${s.kind} ${s.what}`).sort()).toEqual(['queue put', 'withTimeout "db-connect"']);
  for (const s of stalled) expect(s.origin[0]).toMatch(/where-is-it-stuck\.ts:\d+:\d+\)?$/);
  const ended = result.stalls.filter((s) => s.phase === 'ended');
  expect(ended.map((s) => `${s.what} ${s.outcome}`).sort()).toEqual(['"db-connect" aborted', 'put closed']);

  expect(result.uploadStatus).toBe(202);
  expect(result.hungTranscribeStatus).toBe(503);
});

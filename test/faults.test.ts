// The fault campaign (`npm run faults`, test/faults/): what it counts, tested on made-up sections,
// and a short run of three of its scenarios so that it cannot rot: a waiter stopped across its
// grant, a holder stopped past its lease and a worker killed, each on a real redis-server with 3
// real worker processes.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { FAULTS, runScenario } from './faults/campaign.js';
import {
  afterResume,
  believed,
  FIRST_TURN_MS,
  maxOverlap,
  recovery,
  type Section,
} from './faults/overlap.js';
import { faultsSection, held } from './faults/run.js';
import { writeSection } from './support/sections.js';

const section = (start: number, end: number | undefined, lost?: number): Section => ({
  worker: 0,
  start,
  end,
  lost,
});

describe('what the campaign counts', () => {
  test('spans that touch are not an overlap; nested and crossing ones are', () => {
    expect(
      maxOverlap([
        [0, 10],
        [10, 20],
      ]).max,
    ).toBe(1);
    expect(
      maxOverlap([
        [0, 10],
        [5, 20],
        [6, 7],
      ]),
    ).toEqual({ max: 3, at: 6 });
    expect(maxOverlap([[5, 5]]).max).toBe(0); // empty
  });

  test('maxOverlap agrees with counting at every start', () => {
    const span = fc
      .tuple(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 1, max: 20 }))
      .map(([a, d]) => [a, a + d] as [number, number]);
    fc.assert(
      fc.property(fc.array(span, { maxLength: 30 }), (spans) => {
        const brute = Math.max(0, ...spans.map(([t]) => spans.filter(([a, b]) => a <= t && t < b).length));
        expect(maxOverlap(spans).max).toBe(brute);
      }),
    );
  });

  test('a section believes until it ends or its signal aborts, or its process is killed', () => {
    expect(believed(section(0, 10), {})).toEqual([[0, 10]]);
    expect(believed(section(0, 10, 4), {})).toEqual([[0, 4]]);
    expect(believed(section(0, undefined), { killedAt: 7 })).toEqual([[0, 7]]);
  });

  test('a section that spans its process stop counts before it, and again from SIGCONT + its first turn', () => {
    const fate = { stopped: { from: 10, to: 100 } };
    expect(believed(section(0, 200), fate)).toEqual([
      [0, 10],
      [100 + FIRST_TURN_MS, 200],
    ]);
    expect(afterResume(section(0, 200), fate)).toBe(100);
    // Told at its first turn: nothing after the stop counts, and the tail is what the page shows.
    expect(believed(section(0, 200, 101), fate)).toEqual([[0, 10]]);
    expect(afterResume(section(0, 200, 101), fate)).toBe(1);
    // Begun in its first turn: counted from the end of that turn; begun after it: counted whole.
    expect(believed(section(105, 160), fate)).toEqual([[100 + FIRST_TURN_MS, 160]]);
    expect(believed(section(105, 110), fate)).toEqual([]);
    expect(believed(section(150, 160), fate)).toEqual([[150, 160]]);
    expect(afterResume(section(150, 160), fate)).toBeUndefined();
  });

  test('recovery is the first 100 ms window after the fault with 80 % of the median rate before it', () => {
    const starts = [
      ...Array.from({ length: 100 }, (_, i) => i * 10), // 10 per 100 ms from 0 to 1000
      ...Array.from({ length: 50 }, (_, i) => 1_500 + i * 10), // back from 1500 on
    ];
    expect(recovery(starts, [0, 1_000], 1_200, 2_000)).toBe(300 - 20); // 1480..1580 has 8 = 80 % of 10
    expect(recovery(starts, [0, 1_000], 1_200, 1_400)).toBeUndefined();
  });
});

test('each script keeps the other part of a page it shares', () => {
  const dir = mkdtempSync(join(tmpdir(), 'unwedge-sections-'));
  try {
    const file = pathToFileURL(join(dir, 'page.md'));
    writeSection(file, 'Reliability', 'load', '## load\nfirst');
    writeSection(file, 'Reliability', 'faults', '## faults\nfirst');
    writeSection(file, 'Reliability', 'load', '## load\nsecond');
    expect(readFileSync(file, 'utf8')).toBe(
      '# Reliability\n\n<!-- load:begin -->\n## load\nsecond\n<!-- load:end -->\n\n<!-- faults:begin -->\n## faults\nfirst\n<!-- faults:end -->\n',
    );
    writeFileSync(file, 'hand-written\n');
    writeSection(file, 'Reliability', 'faults', 'x');
    expect(readFileSync(file, 'utf8')).toBe(
      'hand-written\n\n<!-- faults:begin -->\nx\n<!-- faults:end -->\n',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('a short run of the campaign', () => {
  for (const name of ['waiter stopped across its grant', 'holder stopped past its lease', 'worker killed']) {
    test(`${name}: never more believed holders than permits, every call settled, every process exited`, async () => {
      const fault = FAULTS.find((f) => f.name === name)!;
      const r = await runScenario(fault, { loops: 8, ms: 5_000 });
      expect(r.sections).toBeGreaterThan(100);
      expect(r.believedMax).toBeLessThanOrEqual(8);
      expect(r.heldAtFault).toBeGreaterThan(0); // the fault hit a holder
      expect(r.calls).toBe(r.settled);
      expect(r.exits).toEqual(name === 'worker killed' ? ['SIGKILL', 0, 0] : [0, 0, 0]);
      if (name === 'holder stopped past its lease') {
        // Its sections ran on after SIGCONT, whatever a store saw: the lease told them at once.
        expect(r.afterResume).toBeLessThanOrEqual(FIRST_TURN_MS);
      }
      expect(held(r)).toBe(true);
      expect(faultsSection([r], 'test')).toContain(`| ${name} |`);
    }, 60_000);
  }
});

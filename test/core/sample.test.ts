// core/sample.ts: what a snapshot reads of a primitive's waits. Its cost is the point: only the
// oldest `limit` of each list are described; every other wait is one number read and counted.
import { describe, expect, test } from 'vitest';
import { AGE_BUCKETS, Sample } from '../../src/core/sample.js';
import type { WaitSnapshot } from '../../src/core/track.js';

interface W {
  since: number;
}
const waits = (sinces: number[]): W[] => sinces.map((since) => ({ since }));

describe('Sample', () => {
  test('describes only the first `limit` waits of a list, whatever its length, and counts the rest', () => {
    const sample = new Sample(100, 1_000);
    let described = 0;
    const list = waits(Array.from({ length: 100_000 }, () => 0));
    sample.take(
      list,
      (w) => w.since,
      (w): WaitSnapshot => {
        described++;
        return { key: w, what: 'x', since: w.since };
      },
    );
    expect(described).toBe(100);
    expect(sample.waits()).toHaveLength(100);
    expect(sample.omitted()).toMatchObject({ count: 99_900, unknownAge: 0 });
  });

  test('of several lists, keeps the oldest `limit` waits of all and counts the others', () => {
    const sample = new Sample(2, 100);
    const describe = (w: W): WaitSnapshot => ({ key: w, what: String(w.since), since: w.since });
    sample.take(waits([10, 50, 90]), (w) => w.since, describe);
    sample.take(waits([5, 60]), (w) => w.since, describe);
    expect(sample.waits().map((w) => w.since)).toEqual([5, 10]);
    expect(sample.omitted()!.count).toBe(3); // 90 (beyond the first list's limit), then 50 and 60
  });

  test('counts omitted waits by age bucket, those with no recorded start apart, and those past `overAge`', () => {
    const t = 100_000;
    const ages = [0, 9, 10, 99, 100, 999, 1_000, 9_999, 10_000, 59_999, 60_000, 99_000];
    const sample = new Sample(0, t, undefined, 1_000);
    sample.take(
      [...waits(ages.map((age) => t - age)), { since: -2 }],
      (w) => w.since,
      () => {
        throw new Error('nothing is described at limit 0');
      },
    );
    expect(sample.waits()).toEqual([]);
    expect(AGE_BUCKETS).toEqual([10, 100, 1_000, 10_000, 60_000]);
    expect(sample.omitted()).toEqual({ count: 13, ages: [2, 2, 2, 2, 2, 2], unknownAge: 1, over: 6 });
  });

  test('nothing omitted: omitted() is undefined; names go through redact', () => {
    const sample = new Sample(Number.POSITIVE_INFINITY, 0, (name) => name.toUpperCase());
    sample.take(
      waits([1, 2]),
      (w) => w.since,
      (w) => ({ key: w, what: 'x', since: w.since }),
    );
    expect(sample.waits()).toHaveLength(2);
    expect(sample.omitted()).toBeUndefined();
    expect(sample.quote('db')).toBe('"DB"');
    expect(new Sample(1, 0).quote('db')).toBe('"db"');
  });
});

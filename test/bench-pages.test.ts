// The performance figures in docs/performance.md and the README are generated from
// bench/results/ (bench/pages.ts), never typed: this fails when either page differs from what the
// results give, e.g. after a hand edit or a results file committed without its pages.
import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { costSection, END, START } from '../bench/otel-pages.js';
import { performancePage, readmeWithSection } from '../bench/pages.js';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

test('docs/performance.md is what bench/results/ give', () => {
  expect(read('docs/performance.md')).toBe(performancePage());
});

test("the README's performance section is what bench/results/ give", () => {
  const readme = read('README.md');
  expect(readme).toBe(readmeWithSection(readme));
});

test("docs/observability.md's Cost section is what bench/results/otel-node-*.json give", () => {
  const page = read('docs/observability.md');
  expect(page.slice(page.indexOf(START), page.indexOf(END) + END.length)).toBe(costSection());
  expect(costSection()).toMatch(/^Node 26\./m); // every line the bench ran on, newest first
});

test('a README without the section markers is an error, not a silent skip', () => {
  expect(() => readmeWithSection('# no section here\n')).toThrow(/README\.md has no <!-- performance/);
});

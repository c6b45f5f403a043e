// Runs the default test suite N times in a row (default 20) to catch flaky tests, and prints one
// line per run and a summary. A flake is fixed at its cause: no retries, no longer sleeps.
//
//   npm run test:repeat [-- N]
import { spawnSync } from 'node:child_process';

const runs = Number(process.argv[2] ?? 20);
const failures = [];
const started = Date.now();
for (let i = 1; i <= runs; i++) {
  const t = Date.now();
  const result = spawnSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--reporter=dot'], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  const output = `${result.stdout}${result.stderr}`;
  const summary = /Tests\s+(.*)/.exec(output)?.[1]?.trim() ?? 'no summary';
  const ok = result.status === 0;
  if (!ok) failures.push({ run: i, output });
  console.log(
    `run ${i}/${runs}: ${ok ? 'pass' : 'FAIL'} (${summary}) in ${((Date.now() - t) / 1000).toFixed(0)} s`,
  );
}
console.log(`${runs - failures.length} passed, ${failures.length} failed`);
for (const f of failures) {
  console.log(`\n--- run ${f.run} failed ---`);
  console.log(
    f.output
      .split('\n')
      .filter((line) => /FAIL|×|Error|expected/.test(line))
      .slice(0, 40)
      .join('\n'),
  );
}
console.log(`total ${((Date.now() - started) / 60000).toFixed(1)} min`);
process.exitCode = failures.length === 0 ? 0 : 1;

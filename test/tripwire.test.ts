import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { activeResources, leakedSince, settledLeaks } from './support/leaks.js';

const root = fileURLToPath(new URL('..', import.meta.url));

function runFixture(file: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['node_modules/vitest/vitest.mjs', 'run', '--config', 'test/fixtures/vitest.config.ts', file],
      { cwd: root, env: { ...process.env, CI: 'true', NO_COLOR: '1' }, timeout: 60_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? (error.code as number) : 0, output: stdout + stderr }),
    );
  });
}

test('leakedSince names a timer started after the baseline', () => {
  const baseline = activeResources();
  const timer = setInterval(() => {}, 60_000);
  try {
    expect(leakedSince(baseline)).toEqual(['1 × Timeout']);
  } finally {
    clearInterval(timer);
  }
  expect(leakedSince(baseline)).toEqual([]);
});

test('a test file that leaves a timer running fails the run', async () => {
  const { code, output } = await runFixture('test/fixtures/leaky-timer.fixture.ts');
  expect(code).not.toBe(0);
  expect(output).toContain('left active handles behind: 1 × Timeout');
});

test('an unhandled rejection fails the run', async () => {
  const { code, output } = await runFixture('test/fixtures/unhandled.fixture.ts');
  expect(code).not.toBe(0);
  expect(output).toContain('nobody awaits this');
});

test('leakedSince names a listening server until it is closed', async () => {
  const { createServer } = await import('node:net');
  const baseline = activeResources();
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  expect(leakedSince(baseline)).toEqual(['1 × TCPServerWrap']);
  await new Promise((resolve) => server.close(resolve));
  expect(await settledLeaks(baseline)).toEqual([]);
});

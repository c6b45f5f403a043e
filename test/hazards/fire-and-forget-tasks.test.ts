import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { SHUTDOWN_DEADLINE_MS } from '../../examples/app-lifespan.js';
import { get } from '../../examples/lib/http.js';
import { collect, waitFor } from '../support/child.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

test('fire-and-forget updaters, run through a TaskRegistry: failures logged with names and stacks, SIGTERM exits within the deadline naming the straggler', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/app-lifespan.ts', '--serve'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = collect(child);
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  try {
    const [, port] = await waitFor(
      child,
      () => out.stdout,
      /listening on http:\/\/127\.0\.0\.1:(\d+)/,
      15_000,
    );
    const tasks = await get(Number(port), '/tasks');
    expect(JSON.parse(tasks.body).map((t: { name: string }) => t.name)).toEqual([
      'deployment-status-updater',
      'airlock-status-updater',
    ]);
    // The last malformed message (#9) and a failed connect round: the bus is idle from then on.
    await waitFor(child, () => out.stderr, /airlock message #9 has no body/, 10_000);
    await waitFor(child, () => out.stderr, /task "deployment-status-updater" .* failed:/, 10_000);

    // Failures were reported by the registry: task and registry named, with the stack and cause.
    expect(out.stderr).toMatch(
      /unwedge: task "airlock-status-updater" \(#\d+, \d+ ms old\) of task registry "app" failed:\nError: airlock message #3 has no body\n {4}at handleAirlockMessage /,
    );
    expect(out.stderr).toMatch(
      /unwedge: task "deployment-status-updater" \(#1, \d+ ms old\) of task registry "app" failed:\nError: database unreachable after 3 connect attempts\n {4}at deploymentStatusUpdater [\s\S]*\[cause\]: TimeoutError: "db-connect" timed out after 150 ms/,
    );
    expect(out.stderr.match(/airlock message #\d has no body/g)).toEqual([
      'airlock message #3 has no body',
      'airlock message #6 has no body',
      'airlock message #9 has no body',
    ]); // each failure once

    const signalled = performance.now();
    child.kill('SIGTERM');
    const [code] = await exited;
    const ms = performance.now() - signalled;
    expect(code).toBe(0);
    // The airlock updater sits in a 5 s long poll that takes no signal: the deadline, not it, decides.
    expect(ms).toBeGreaterThanOrEqual(SHUTDOWN_DEADLINE_MS - 50);
    expect(ms).toBeLessThan(SHUTDOWN_DEADLINE_MS + 1_000);
    expect(out.stdout).toContain(
      'SIGTERM: no longer accepting connections; shutting down 2 background tasks',
    );
    expect(out.stdout).toMatch(
      /shutdown took (\d+) ms: cancelled: deployment-status-updater; failed: -; stragglers: airlock-status-updater/,
    );
    const took = Number(out.stdout.match(/shutdown took (\d+) ms/)![1]);
    expect(took).toBeGreaterThanOrEqual(SHUTDOWN_DEADLINE_MS);
    expect(took).toBeLessThan(SHUTDOWN_DEADLINE_MS + 250); // timer slack on a loaded machine
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  }
});

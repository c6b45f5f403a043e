// Hazard: docs/hazards/shutdown-without-a-budget.md (issue 21; seed 002's app). A SIGTERM handler
// that closes the server and exits when it has closed waits for every connection to end; a client
// that keeps its connection alive and keeps using it never lets it, and the process runs until it
// is killed, having said nothing. Under a Lifecycle it exits within its budget, naming what ran.
import { expect, test } from 'vitest';
import { BUDGET_MS, gracefulShutdownStory, KILL_AFTER_MS } from '../../examples/graceful-shutdown.js';

test('server.close(() => process.exit(0)) never exits while a kept-alive client polls; Lifecycle.handleSignals() exits 1 within its budget, naming the straggler', async () => {
  const { naive, unwedge, cured } = await gracefulShutdownStory();

  // The hand-written handler: still answering on the kept-alive connection when it is killed.
  expect(naive.killed).toBe(true);
  expect(naive.exitMs).toBeGreaterThanOrEqual(KILL_AFTER_MS - 50);
  expect(naive.keptAliveAnswers).toBeGreaterThan(10);
  expect(naive.stderr).toBe('');

  // The Lifecycle: refused at once, the request in flight answered, out within the budget.
  expect(unwedge.killed).toBe(false);
  expect(unwedge.code).toBe(1);
  expect(unwedge.refusedMs).toBeLessThan(200);
  expect(unwedge.inFlightCompleted).toBe(true);
  expect(unwedge.keptAliveAnswers).toBe(0);
  expect(unwedge.exitMs).toBeGreaterThanOrEqual(BUDGET_MS - 50); // the straggler held it to the deadline
  expect(unwedge.exitMs).toBeLessThan(BUDGET_MS + 1_000);
  expect(unwedge.stderr).toMatch(
    /^unwedge: lifecycle "api" shut down in \d+ ms \(budget 1500 ms\): 1 resource left running, 0 failures\n/,
  );
  // The server, stopped first, is given what is left of the 1500 ms: all of it but the shutdown's
  // own start-up (0-2 ms measured, on a loaded machine).
  const given = /\n {2}server 127\.0\.0\.1:\d+ +stopped +\d+ ms of (\d+) ms\n/.exec(unwedge.stderr)?.[1];
  expect(Number(given)).toBeGreaterThanOrEqual(1_490);
  expect(Number(given)).toBeLessThanOrEqual(1_500);
  expect(unwedge.stderr).toMatch(/\n {2}flush-metrics +stopped +\d+ ms of 0 ms\n/); // its turn came after the budget: it still ran
  expect(unwedge.stderr).toMatch(
    /still running in task registry "updaters": 1 task \(1 shutting-down\), closed\n +\d+ ms {2}\[shutting-down\] "airlock-status-updater" \(no timeout\)\n/,
  );
  expect(cured).toBe(true);
});

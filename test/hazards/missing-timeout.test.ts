import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { connectDb } from '../../examples/app-lifespan.js';
import { silentTcpServer } from '../../examples/lib/http.js';
import { TimeoutError } from '../../src/errors.js';
import { type TaskInfo, TaskRegistry } from '../../src/registry/registry.js';
import { withTimeout } from '../../src/timeout.js';

// Seed 003: a background job connects to a database that accepts the connection and never
// answers. Real loopback sockets, real time.
let db: Awaited<ReturnType<typeof silentTcpServer>>;
let reports: Array<{ error: unknown; task: TaskInfo }>;
let registry: TaskRegistry;

beforeEach(async () => {
  db = await silentTcpServer();
  reports = [];
  registry = new TaskRegistry({ name: 'jobs', onError: (error, task) => reports.push({ error, task }) });
});
afterEach(async () => {
  await registry.shutdown({ timeout: 100 });
  await db.close();
});

test('a connect with no timeout hangs the background job forever and nothing is reported', async () => {
  registry.spawn('process-csv', () => connectDb(db.port)); // ignores its signal: no timeout anywhere
  await sleep(400);
  expect(registry.list()).toMatchObject([{ name: 'process-csv', state: 'running' }]);
  expect(registry.list()[0]!.ageMs).toBeGreaterThanOrEqual(400);
  expect(reports).toEqual([]); // "no exceptions in logs"
  expect(db.connections()).toBe(1);
  // At least the registry can name it at shutdown.
  expect((await registry.shutdown({ timeout: 50 })).stragglers).toEqual(['process-csv']);
});

test('withTimeout turns the hang into a failure in time: reported once, and the socket is closed', async () => {
  const started = performance.now();
  const task = registry.spawn('process-csv', (signal) =>
    withTimeout((s) => connectDb(db.port, s), 200, { signal, name: 'db-connect' }),
  );
  await expect(task.done).rejects.toThrow('"db-connect" timed out after 200 ms');
  const ms = performance.now() - started;
  expect(ms).toBeGreaterThanOrEqual(195);
  expect(ms).toBeLessThan(400);
  expect(reports).toHaveLength(1);
  expect(reports[0]!.error).toBeInstanceOf(TimeoutError);
  expect(reports[0]!.task).toMatchObject({ name: 'process-csv', state: 'running' });
  expect(registry.size).toBe(0);
  await sleep(50); // the FIN of the aborted connect reaching the server
  expect(db.connections()).toBe(0);
});

test("spawn's own timeout bounds the whole job the same way when the work honours its signal", async () => {
  const task = registry.spawn('process-csv', (signal) => connectDb(db.port, signal), { timeout: 200 });
  await expect(task.done).rejects.toBeInstanceOf(TimeoutError);
  expect(reports.map((r) => (r.error as Error).message)).toEqual([
    'task "process-csv" (#1) of task registry "jobs" timed out after 200 ms',
  ]);
  await sleep(50);
  expect(registry.size).toBe(0);
  expect(db.connections()).toBe(0);
});

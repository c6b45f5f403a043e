import { afterEach, expect, test, vi } from 'vitest';
import { appLifespanStory } from '../../examples/app-lifespan.js';
import { TaskRegistry } from '../../src/registry/registry.js';

afterEach(() => {
  vi.restoreAllMocks();
});

test('a fire-and-forget updater that throws is never heard of; through a TaskRegistry its failure reaches stderr once, named, with its stack', async () => {
  const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  const updater = async (label: string) => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    throw new Error(`${label}: airlock message #3 has no body`);
  };

  // The wrong way: `.catch(() => {})` keeps it from crashing the process, and from being seen.
  let naiveDied = false;
  void updater('naive').catch(() => {
    naiveDied = true;
  });
  // The fix: the registry holds it, and reports its failure (done is ignored here on purpose).
  const registry = new TaskRegistry({ name: 'app' });
  registry.spawn('airlock-status-updater', () => updater('registry'));

  await new Promise((resolve) => setTimeout(resolve, 60));
  expect(naiveDied).toBe(true);
  const text = write.mock.calls.map((call) => String(call[0])).join('');
  expect(text).not.toContain('naive');
  expect(write).toHaveBeenCalledTimes(1);
  expect(text).toMatch(
    /^unwedge: task "airlock-status-updater" \(#1, \d+ ms old\) of task registry "app" failed:\nError: registry: airlock message #3 has no body\n {4}at /,
  );
  expect(registry.size).toBe(0);
});

test('seed 002 end to end: the naive start-up loses every failure; the registry reports each, restarts, and shuts down in time', async () => {
  const r = await appLifespanStory();
  // Naive: the airlock updater died at message #3 and nobody knew; 7 messages were never handled.
  expect(r.naive.failuresHappened).toBe(1);
  expect(r.naive.failuresLogged).toBe(0);
  expect(r.naive.airlockMessagesHandled).toBe(2);
  // With the registry: every failure reported with its task's name and a stack; the updaters restarted.
  expect(r.unwedge.failures.filter((f) => f.task === 'airlock-status-updater').map((f) => f.message)).toEqual(
    ['airlock message #3 has no body', 'airlock message #6 has no body', 'airlock message #9 has no body'],
  );
  expect(r.unwedge.failures.some((f) => f.task === 'deployment-status-updater')).toBe(true);
  expect(r.unwedge.failures.every((f) => f.hasStack)).toBe(true);
  expect(r.unwedge.airlockMessagesHandled).toBe(6);
  expect(r.unwedge.stragglers).toEqual(['airlock-status-updater']);
  expect(r.unwedge.cancelled).toEqual(['deployment-status-updater']);
  expect(r.cured).toBe(true);
});

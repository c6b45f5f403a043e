// Clients and watchers a service registers as they are, on real parts: an ioredis client against a
// real redis-server (its `shutdown()` is Redis's SHUTDOWN command: a Lifecycle must quit the client,
// never stop the server), and the inspect watchers (stopped, not mistaken for something else).
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { flags } from '../../src/core/track.js';
import { watchStalls } from '../../src/inspect/stalls.js';
import { Lifecycle } from '../../src/lifecycle/lifecycle.js';
import { type RedisServer, startRedis } from '../redis/server.js';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server?.destroy();
});

test('an ioredis client is quit, and the redis-server it talks to keeps running', async () => {
  const redis = new Redis(server.port, '127.0.0.1');
  await redis.set('lifecycle:before', '1');
  const life = new Lifecycle({ name: 'api', timeout: 2_000 });
  life.use(redis, { name: 'redis' });
  const report = await life.shutdown();
  expect(report.clean).toBe(true);
  expect(report.steps.map((s) => [s.name, s.outcome])).toEqual([['redis', 'stopped']]);
  if (redis.status !== 'end') await once(redis, 'end'); // quit: the client closes its connection
  const other = new Redis(server.port, '127.0.0.1', { maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    expect(await other.get('lifecycle:before')).toBe('1'); // the server is still up, with its data
  } finally {
    other.disconnect();
  }
});

test('a stall watcher is stopped by its stop(), leaving nothing failed', async () => {
  const users = flags.users; // each running watcher keeps the inspector's timing on
  const life = new Lifecycle({ timeout: 1_000 });
  life.use(watchStalls({ threshold: 1_000, onStall: () => {} }));
  expect(flags.users).toBe(users + 1);
  const report = await life.shutdown();
  expect(report.failed).toEqual([]);
  expect(report.clean).toBe(true);
  expect(flags.users).toBe(users); // stopped
});

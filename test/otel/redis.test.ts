// unwedge/otel with a RedisSemaphore on a real redis-server: a lost lease counts once in
// unwedge.leases.lost, and the semaphore's permits show in the permit gauges (this instance's view).
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { instrument } from '../../src/otel/index.js';
import { RedisSemaphore } from '../../src/redis/index.js';
import { type RedisServer, startRedis } from '../redis/server.js';
import { meters, value } from './support.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
}, 30_000);
afterAll(async () => {
  await redis?.destroy();
});

test('a lost lease counts once in unwedge.leases.lost; a held permit shows in the permit gauges', async () => {
  const { meterProvider, collect } = meters();
  const otel = instrument({ meterProvider, tracerProvider: false });
  const client = new Redis(redis.port, '127.0.0.1', { lazyConnect: true });
  await client.connect();
  const sem = new RedisSemaphore(client, { key: 'otel:lost', permits: 2, name: 'o-redis' });
  try {
    const permit = await sem.acquire();
    const name = { 'unwedge.kind': 'redis-semaphore', 'unwedge.name': 'o-redis' };
    let all = await collect();
    expect(value(all, 'unwedge.semaphore.permits.used', name)).toBe(1);
    expect(value(all, 'unwedge.semaphore.permits.limit', name)).toBe(2);
    expect(value(all, 'unwedge.leases.lost', name)).toBeUndefined();
    client.disconnect(); // the client ends: its lease can no longer be kept
    await new Promise((resolve) => permit.signal.addEventListener('abort', resolve));
    permit.release();
    all = await collect();
    expect(value(all, 'unwedge.leases.lost', name)).toBe(1);
  } finally {
    otel.stop();
    await sem.close().catch(() => {});
    if (client.status !== 'end') client.disconnect(); // a second disconnect() leaves a 2 s timer
  }
});

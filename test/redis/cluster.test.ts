// RedisSemaphore on an ioredis Cluster, against a real Redis Cluster of 3 masters on loopback
// (cluster.ts): its keys share one slot, its script runs on the node owning it, and a waiter on
// another instance is woken by the script's PUBLISH, which the cluster broadcasts to every node.
import { Cluster, Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { RedisSemaphore } from '../../src/redis/index.js';
import { keysOf } from '../../src/redis/scripts.js';
import { type RedisCluster, startCluster } from './cluster.js';
import { waitUntil, within } from './contract.js';

let cluster: RedisCluster;
const clients: Cluster[] = [];
const opened: RedisSemaphore[] = [];
let keys = 0;

beforeAll(async () => {
  cluster = await startCluster();
}, 60_000);
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
  await Promise.all(clients.splice(0).map((c) => (c.status === 'end' ? undefined : c.quit())));
});
afterAll(async () => {
  await cluster?.destroy();
});

function connect(): Cluster {
  const client = new Cluster(cluster.nodes);
  clients.push(client);
  return client;
}

function semaphore(options: { key: string; permits?: number; leaseMs?: number }) {
  const sem = new RedisSemaphore(connect(), { permits: 1, ...options });
  opened.push(sem);
  return sem;
}

const nextKey = () => `cluster-${++keys}`;

/** The channels subscribed on any node that match `pattern`, asked of each node directly. */
async function channels(pattern = '*'): Promise<string[]> {
  const lists = await Promise.all(
    cluster.nodes.map(async (n) => {
      const node = new Redis(n.port, n.host);
      try {
        return (await node.pubsub('CHANNELS', pattern)) as string[];
      } finally {
        node.disconnect();
      }
    }),
  );
  return lists.flat();
}

describe('on a Redis Cluster of 3 masters', () => {
  test("a semaphore's keys share one slot", async () => {
    const admin = connect();
    const slots = await Promise.all(keysOf('storage').keys.map((k) => admin.cluster('KEYSLOT', k)));
    expect(new Set(slots).size).toBe(1);
  });

  test('a waiter in another instance is woken by pub/sub, not by the poll', async () => {
    const key = nextKey();
    // leaseMs 30 s: a poll every 1 s at most while waiting, so only the wake-up serves it sooner.
    const a = semaphore({ key, leaseMs: 30_000 });
    const b = semaphore({ key, leaseMs: 30_000 });
    const held = await a.acquire();
    const waiting = b.acquire({ timeout: 5_000 });
    await b.inspect(); // b's acquire is in line
    // Subscribed before the release: once subscribed, b polls once, which must not be what serves it.
    const wake = `unwedge:sem:{${key}}:wake:*`;
    await waitUntil(async () => (await channels(wake)).length > 0, 1_000, "b's subscription");
    await b.inspect(); // and its poll on subscribing has been answered
    const released = performance.now();
    held.release();
    const permit = await within(waiting, 5_000, 'woken waiter');
    expect(performance.now() - released).toBeLessThan(500);
    expect(permit.fence).toBeGreaterThan(held.fence);
    permit.release();
  });

  test('three instances on their own clients never hold more than the permits, and every call settles', async () => {
    const key = nextKey();
    const instances = [0, 1, 2].map(() => semaphore({ key, permits: 3, leaseMs: 3_000 }));
    let inside = 0;
    let peak = 0;
    const fences: number[] = [];
    const calls = instances.flatMap((sem) =>
      Array.from({ length: 20 }, () =>
        sem.acquire({ timeout: 10_000 }).then(async (permit) => {
          fences.push(permit.fence);
          peak = Math.max(peak, ++inside);
          await new Promise((resolve) => setTimeout(resolve, 2));
          inside--;
          permit.release();
        }),
      ),
    );
    await within(Promise.all(calls), 15_000, 'every call');
    expect(peak).toBe(3);
    expect(new Set(fences).size).toBe(60); // one fence per grant: every one different
    await instances[0]!.inspect(); // the releases have reached Redis
    expect(await instances[1]!.inspect()).toEqual({ used: 0, queued: 0, holders: 0 });
  });

  test('a lease lost on the cluster aborts its permit', async () => {
    const key = nextKey();
    const sem = semaphore({ key, leaseMs: 300 });
    const permit = await sem.acquire();
    await connect().del(keysOf(key).keys[0]); // the holders' key is gone, as after a lapse
    const reason = await within(
      new Promise((resolve) => permit.signal.addEventListener('abort', () => resolve(permit.signal.reason))),
      2_000,
      'lost lease',
    );
    expect((reason as Error).name).toBe('LeaseLostError');
    permit.release();
  });

  test('close() ends the subscriber connection it opened, and leaves the client open', async () => {
    const key = nextKey();
    const client = connect();
    const sem = new RedisSemaphore(client, { key, permits: 1 });
    const held = await sem.acquire();
    const waiting = sem.acquire({ timeout: 5_000 }); // subscribes
    await sem.inspect();
    const refused = expect(waiting).rejects.toMatchObject({ code: 'ERR_UNWEDGE_CLOSED' }); // handled before close()
    await sem.close();
    await refused;
    held.release();
    expect(client.status).toBe('ready');
    expect(await channels()).toEqual([]); // no node has a subscriber left
  });
});

// A real Redis Cluster of 3 masters (no replicas) on loopback for the cluster tests: three
// redis-servers of server.ts with cluster mode on, joined by `redis-cli --cluster create`.
// Resolves once every node says cluster_state:ok; `destroy()` kills them and removes their files.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { type RedisServer, startRedis } from './server.js';

export interface RedisCluster {
  readonly nodes: Array<{ host: string; port: number }>;
  destroy(): Promise<void>;
}

const run = promisify(execFile);

export async function startCluster(): Promise<RedisCluster> {
  const servers: RedisServer[] = [];
  const destroy = async () => {
    await Promise.all(servers.map((s) => s.destroy()));
  };
  try {
    for (let i = 0; i < 3; i++) {
      servers.push(
        await startRedis({
          args: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-node-timeout',
            '2000',
          ],
        }),
      );
    }
    const nodes = servers.map((s) => ({ host: '127.0.0.1', port: s.port }));
    await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...nodes.map((n) => `${n.host}:${n.port}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { timeout: 20_000 },
    );
    await Promise.all(nodes.map((n) => clusterOk(n.port)));
    return { nodes, destroy };
  } catch (error) {
    await destroy();
    throw error;
  }
}

/** Resolves once the node on `port` says cluster_state:ok (asking every 50 ms, for at most 20 s). */
async function clusterOk(port: number): Promise<void> {
  const client = new Redis(port, '127.0.0.1');
  try {
    const deadline = performance.now() + 20_000;
    while (!(await client.cluster('INFO')).includes('cluster_state:ok')) {
      if (performance.now() > deadline) throw new Error(`cluster node ${port} not ok within 20 s`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    client.disconnect();
  }
}

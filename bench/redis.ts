// RedisSemaphore beside the `redis-semaphore` package, on one redis-server, in one run:
//   1. uncontended acquire+release round trips, one caller, interleaved rounds (unwedge twice: a
//      loop whose release rides on the next acquire, and a release sent on its own);
//   2. contended throughput: 8 permits, 3 processes × 32 concurrent acquirers, each holding a
//      permit ~1 ms, then ~20 ms; acquisitions per second, and Redis commands per acquisition (at the
//      client: every command ioredis sends, subscriber connection included; and at the server:
//      INFO commandstats, which also counts the commands run inside scripts).
//
//   node --import tsx bench/redis.ts [--port N] [--ops 2000] [--rounds 5] [--seconds 3]
//
// Without --port it starts its own redis-server (test/redis/server.ts).
import { spawn } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { Semaphore as PeerSemaphore } from 'redis-semaphore';
import { RedisSemaphore } from '../src/redis/index.js';
import { startRedis } from '../test/redis/server.js';
import { stats } from './harness.js';

export interface RedisBenchResult {
  uncontended: Array<{
    name: string;
    /** Median µs per acquire+release, and the spread over rounds. */
    medianUs: number;
    minUs: number;
    maxUs: number;
    /** Commands the client sent per acquire+release. */
    commandsPerAcquire: number;
  }>;
  contended: Array<{
    name: string;
    /** How long each acquirer holds its permit (ms, plus the two round trips of the in-flight meter). */
    holdMs: number;
    acquisitionsPerSecond: number;
    /** Commands the three processes' clients sent, per acquisition. */
    clientCommandsPerAcquire: number;
    /** Commands Redis executed per acquisition, those inside scripts included (INFO commandstats). */
    serverCommandsPerAcquire: number;
    /** Peak permits held at once, as counted in Redis (must be ≤ 8). */
    peak: number;
  }>;
}

type Kind = 'unwedge' | 'redis-semaphore';
const SELF = fileURLToPath(import.meta.url);

/** Counts every command a client (and any client it duplicates) sends. */
function counted(client: Redis): { client: Redis; count: () => number; reset: () => void } {
  let n = 0;
  const wrap = (c: Redis): Redis => {
    const send = c.sendCommand.bind(c);
    c.sendCommand = ((...args: Parameters<Redis['sendCommand']>) => {
      n++;
      return send(...args);
    }) as Redis['sendCommand'];
    const duplicate = c.duplicate.bind(c);
    c.duplicate = (...args: Parameters<Redis['duplicate']>) => wrap(duplicate(...args));
    return c;
  };
  return {
    client: wrap(client),
    count: () => n,
    reset: () => {
      n = 0;
    },
  };
}

async function uncontended(port: number, ops: number, rounds: number) {
  const key = (name: string) => `bench:uncontended:${name}`;
  const ours = counted(new Redis(port, '127.0.0.1'));
  const alone = counted(new Redis(port, '127.0.0.1'));
  const peers = counted(new Redis(port, '127.0.0.1'));
  const sem = new RedisSemaphore(ours.client, { key: key('unwedge'), permits: 8 });
  const semAlone = new RedisSemaphore(alone.client, { key: key('unwedge-alone'), permits: 8 });
  const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
  const peer = new PeerSemaphore(peers.client, key('redis-semaphore'), 8);
  const contenders = [
    {
      name: 'unwedge RedisSemaphore',
      counter: ours,
      run: async () => {
        for (let i = 0; i < ops; i++) (await sem.acquire()).release();
      },
    },
    {
      // The next acquire comes an event-loop turn later, as in a service where releases and
      // acquires belong to different requests: each release is a command of its own.
      name: 'unwedge RedisSemaphore, release sent alone',
      counter: alone,
      run: async () => {
        for (let i = 0; i < ops; i++) {
          (await semAlone.acquire()).release();
          await nextTurn();
        }
      },
    },
    {
      name: 'redis-semaphore',
      counter: peers,
      run: async () => {
        for (let i = 0; i < ops; i++) {
          await peer.acquire();
          await peer.release();
        }
      },
    },
  ];
  const times = contenders.map(() => [] as number[]);
  const commands = contenders.map(() => 0);
  for (const c of contenders) await c.run(); // warm-up: scripts loaded, JIT warm
  for (let round = 0; round < rounds; round++) {
    for (const [i, c] of contenders.entries()) {
      c.counter.reset();
      const started = process.hrtime.bigint();
      await c.run();
      times[i]!.push(Number(process.hrtime.bigint() - started) / 1_000 / ops);
      commands[i] = c.counter.count() / ops;
    }
  }
  await Promise.all([sem.close(), semAlone.close()]);
  await Promise.all([ours.client.quit(), alone.client.quit(), peers.client.quit()]);
  return contenders.map((c, i) => {
    const s = stats(times[i]!);
    return { name: c.name, medianUs: s.median, minUs: s.min, maxUs: s.max, commandsPerAcquire: commands[i]! };
  });
}

interface ChildJob {
  kind: Kind;
  holdMs: number;
  port: number;
  key: string;
  permits: number;
  acquirers: number;
  ms: number;
}

/** One process of the contended run: `acquirers` loops acquire → hold → release, for `ms`. */
async function child(job: ChildJob): Promise<void> {
  const { client, count, reset } = counted(new Redis(job.port, '127.0.0.1'));
  const ENTER = `local n = redis.call('INCR', KEYS[1])
    if n > tonumber(redis.call('GET', KEYS[2]) or '0') then redis.call('SET', KEYS[2], n) end`;
  // The in-flight counter goes through its own connection, so it is not counted as the semaphore's.
  const meter = new Redis(job.port, '127.0.0.1');
  const hold = async () => {
    await meter.eval(ENTER, 2, `${job.key}:in-flight`, `${job.key}:peak`);
    await new Promise((resolve) => setTimeout(resolve, job.holdMs));
    await meter.decr(`${job.key}:in-flight`);
  };
  await Promise.all([client.ping(), meter.ping()]);
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
  process.stdin.pause();
  reset();
  const deadline = performance.now() + job.ms;
  let acquired = 0;
  let close = async () => {};
  if (job.kind === 'unwedge') {
    const sem = new RedisSemaphore(client, { key: job.key, permits: job.permits });
    close = () => sem.close();
    await Promise.all(
      Array.from({ length: job.acquirers }, async () => {
        while (performance.now() < deadline) {
          const permit = await sem.acquire();
          acquired++;
          await hold();
          permit.release();
        }
      }),
    );
  } else {
    await Promise.all(
      Array.from({ length: job.acquirers }, async () => {
        const sem = new PeerSemaphore(client, job.key, job.permits, { acquireTimeout: 60_000 });
        while (performance.now() < deadline) {
          await sem.acquire();
          acquired++;
          await hold();
          await sem.release();
        }
      }),
    );
  }
  const commands = count();
  await close();
  await Promise.all([client.quit(), meter.quit()]);
  process.stdout.write(`${JSON.stringify({ acquired, commands })}\n`);
  process.exit(0); // stdin stays open for the parent; nothing else is left running
}

async function contended(port: number, kind: Kind, seconds: number, holdMs: number) {
  const admin = new Redis(port, '127.0.0.1');
  const key = `bench:contended:${kind}:${holdMs}`;
  await admin.del(`${key}:in-flight`, `${key}:peak`);
  const job: Omit<ChildJob, 'port'> = { kind, holdMs, key, permits: 8, acquirers: 32, ms: seconds * 1_000 };
  const children = [0, 1, 2].map(() => {
    const proc = spawn(
      process.execPath,
      ['--import', 'tsx', SELF, '--child', JSON.stringify({ ...job, port })],
      {
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    let out = '';
    let markReady: () => void;
    const ready = new Promise<void>((resolve) => {
      markReady = resolve;
    });
    proc.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.startsWith('ready\n')) markReady();
    });
    const done = new Promise<{ acquired: number; commands: number }>((resolve, reject) =>
      proc.once('close', (code) =>
        code === 0
          ? resolve(JSON.parse(out.slice('ready\n'.length)))
          : reject(new Error(`child exited ${code}`)),
      ),
    );
    return { proc, ready, done };
  });
  // Start the three together, once each has loaded and connected.
  await Promise.all(children.map((c) => c.ready));
  await admin.config('RESETSTAT');
  const started = performance.now();
  for (const { proc } of children) proc.stdin!.write('go\n');
  const results = await Promise.all(children.map((c) => c.done));
  const elapsed = (performance.now() - started) / 1_000;
  const server = semaphoreCommands(String(await admin.info('commandstats')));
  const peak = Number(await admin.get(`${key}:peak`));
  await admin.quit();
  const acquired = results.reduce((n, r) => n + r.acquired, 0);
  const commands = results.reduce((n, r) => n + r.commands, 0);
  return {
    name: kind === 'unwedge' ? 'unwedge RedisSemaphore' : 'redis-semaphore',
    holdMs,
    acquisitionsPerSecond: acquired / elapsed,
    clientCommandsPerAcquire: commands / acquired,
    serverCommandsPerAcquire: server / acquired,
    peak,
  };
}

/**
 * Commands Redis ran for the semaphores, from INFO commandstats: all of them but the in-flight
 * meter's (EVAL with INCR/GET/SET inside, DECR: neither semaphore uses these; both load their
 * scripts before this phase, so their own calls are EVALSHA) and this harness's CONFIG/INFO.
 */
function semaphoreCommands(info: string): number {
  const excluded = /^cmdstat_(eval|incr|get|set|decr|config\|resetstat|info):/;
  let total = 0;
  for (const line of info.split('\r\n')) {
    const m = /^cmdstat_[^:]+:calls=(\d+)/.exec(line);
    if (m !== null && !excluded.test(line)) total += Number(m[1]);
  }
  return total;
}

/** Runs the whole benchmark and returns the figures. */
export async function redisBench(
  options: {
    port?: number;
    ops?: number;
    rounds?: number;
    seconds?: number;
    /** Hold times of the contended runs, ms. Default [1, 20]. */
    holds?: number[];
    progress?: (t: string) => void;
  } = {},
): Promise<RedisBenchResult> {
  const server = options.port === undefined ? await startRedis() : undefined;
  const port = options.port ?? server!.port;
  try {
    options.progress?.('uncontended');
    const un = await uncontended(port, options.ops ?? 2_000, options.rounds ?? 5);
    const co = [];
    for (const holdMs of options.holds ?? [1, 20]) {
      for (const kind of ['unwedge', 'redis-semaphore'] as const) {
        options.progress?.(`contended, hold ${holdMs} ms: ${kind}`);
        co.push(await contended(port, kind, options.seconds ?? 3, holdMs));
      }
    }
    return { uncontended: un, contended: co };
  } finally {
    await server?.destroy();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i === -1 ? undefined : process.argv[i + 1];
  };
  const job = arg('--child');
  if (job !== undefined) {
    await child(JSON.parse(job) as ChildJob);
  } else {
    const num = (name: string) => (arg(name) === undefined ? undefined : Number(arg(name)));
    const result = await redisBench({
      port: num('--port'),
      ops: num('--ops'),
      rounds: num('--rounds'),
      seconds: num('--seconds'),
      progress: (t) => process.stderr.write(`${t}\n`),
    });
    const f = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
    console.log('### Uncontended acquire + release, one caller\n');
    console.log('| contender | median µs | min–max | commands / acquire |\n|---|---:|---:|---:|');
    for (const r of result.uncontended) {
      console.log(
        `| ${r.name} | ${f(r.medianUs)} | ${f(r.minUs)}–${f(r.maxUs)} | ${r.commandsPerAcquire.toFixed(2)} |`,
      );
    }
    console.log('\n### Contended: 8 permits, 3 processes × 32 acquirers\n');
    console.log(
      '| contender | hold ms | acquisitions/s | client commands / acquire | server commands / acquire | peak |',
    );
    console.log('|---|---:|---:|---:|---:|---:|');
    for (const r of result.contended) {
      console.log(
        `| ${r.name} | ${r.holdMs} | ${f(r.acquisitionsPerSecond)} | ${r.clientCommandsPerAcquire.toFixed(2)} | ${r.serverCommandsPerAcquire.toFixed(2)} | ${r.peak} |`,
      );
    }
  }
}

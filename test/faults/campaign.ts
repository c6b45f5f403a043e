// The RedisSemaphore fault campaign (issue 23): `npm run faults` writes its table into
// docs/reliability.md. Each scenario starts a real redis-server and 3 worker processes
// (worker.ts) that share one RedisSemaphore, lets them run, applies one fault 2 s in, and counts
// what overlap.ts defines from every section they recorded (measure.ts).
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { within } from '../redis/contract.js';
import { type RedisServer, startRedis } from '../redis/server.js';
import { collect, waitFor } from '../support/child.js';
import { measure, type Result } from './measure.js';
import type { Fate } from './overlap.js';
import type { WorkerConfig } from './worker.js';

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The processes a fault can act on, and the fates it gives them. */
interface Stage {
  redis: RedisServer;
  admin: Redis;
  workers: ChildProcess[];
  fates: Fate[];
  /** Resolves as soon as worker `i` has printed the start of a section and not yet its end. */
  inSection(i: number): Promise<void>;
}

export interface Fault {
  name: string;
  does: string;
  /**
   * How long each section lasts (ms, at random between the two). 1-5 by default; 10-40 where a
   * process is stopped or killed: a section holding a permit it should not have then runs on past
   * the resumed process's first turn, where the count sees it, and the signal lands inside the
   * section it waited for (with 1-5 ms, under load, the section had often ended by then).
   */
  sectionMs?: [number, number];
  /** Applies the fault; resolves when it is over (Redis answers again, the process resumed…). */
  apply(stage: Stage): Promise<void>;
}

/** SIGSTOP worker 0 for `ms`, then SIGCONT. */
function stopWorker(ms: number) {
  return async ({ workers, fates, inSection }: Stage) => {
    await inSection(0);
    const from = now();
    workers[0]!.kill('SIGSTOP');
    await sleep(ms);
    const to = now(); // read first: the process may run before kill() returns
    workers[0]!.kill('SIGCONT');
    fates[0]!.stopped = { from, to };
  };
}

export const FAULTS: Fault[] = [
  { name: 'none', does: 'no fault: the baseline', apply: async () => {} },
  {
    name: 'Redis killed and restarted',
    does: 'redis-server killed with SIGKILL and started again on its port, empty (no persistence)',
    apply: async ({ redis }) => {
      await redis.stop();
      await redis.start();
    },
  },
  {
    name: 'CLIENT PAUSE 3000',
    does: 'Redis answers no client for 3 s (3 leases)',
    apply: async ({ admin }) => {
      await admin.call('CLIENT', 'PAUSE', '3000', 'ALL');
      await sleep(3_000);
    },
  },
  {
    name: 'DEBUG SLEEP 2',
    does: 'Redis blocked for 2 s (2 leases)',
    apply: async ({ admin }) => {
      await admin.call('DEBUG', 'SLEEP', '2');
    },
  },
  {
    name: 'waiter stopped across its grant',
    does: "a worker SIGSTOPped for 600 ms while its loops wait in line: longer than the claim window of a grant made to it meanwhile (333 ms), shorter than its holders' leases",
    sectionMs: [10, 40],
    apply: stopWorker(600),
  },
  {
    name: 'holder stopped past its lease',
    does: 'a worker SIGSTOPped for 3 s while it holds permits (3 leases)',
    sectionMs: [10, 40],
    apply: stopWorker(3_000),
  },
  {
    name: 'worker killed',
    does: 'a worker killed with SIGKILL while it holds permits and has waiters in line',
    sectionMs: [10, 40],
    apply: async ({ workers, fates, inSection }) => {
      await inSection(0);
      fates[0]!.killedAt = now();
      workers[0]!.kill('SIGKILL');
      await once(workers[0]!, 'close');
    },
  },
];

export interface Options {
  permits?: number;
  leaseMs?: number;
  loops?: number;
  /** How long each worker runs after the start (ms); the fault comes 2 s in. */
  ms?: number;
  log?: (line: string) => void;
}

/** Runs one scenario on a fresh redis-server and fresh workers. */
export async function runScenario(fault: Fault, options: Options = {}): Promise<Result> {
  const { permits = 8, leaseMs = 1_000, loops = 16, ms = 8_000 } = options;
  const redis = await startRedis({ debug: true });
  const admin = new Redis(redis.port, '127.0.0.1', { maxRetriesPerRequest: null });
  admin.on('error', () => {});
  const sectionMs = fault.sectionMs ?? [1, 5];
  const config: WorkerConfig = { port: redis.port, key: 'faults', permits, leaseMs, loops, ms, sectionMs };
  const workers = [0, 1, 2].map(() =>
    spawn(process.execPath, ['--import', 'tsx', WORKER, JSON.stringify(config)], {
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  );
  const outs = workers.map((w) => collect(w));
  const exits = workers.map(
    (w) =>
      new Promise<number | string>((resolve) =>
        w.once('close', (code, signal) => resolve(code ?? signal ?? '?')),
      ),
  );
  const fates: Fate[] = workers.map(() => ({}));
  try {
    await Promise.all(workers.map((w, i) => waitFor(w, () => outs[i]!.stdout, /^ready$/m, 20_000)));
    const started = now();
    for (const w of workers) w.stdin!.end('go\n');
    await sleep(2_000);
    const faultAt = now();
    await fault.apply({ redis, admin, workers, fates, inSection: (i) => inSection(workers[i]!, outs[i]!) });
    const faultEnd = now();
    options.log?.(
      `  ${fault.name}: fault from ${Math.round(faultAt - started)} to ${Math.round(faultEnd - started)} ms`,
    );
    const codes = await within(Promise.all(exits), ms + 30_000, 'the workers').catch(() => {
      for (const w of workers) w.kill('SIGKILL');
      return exits.map(() => 'did not exit');
    });
    return measure(fault, permits, outs, fates, codes, { started, faultAt, faultEnd, runEnd: started + ms });
  } finally {
    for (const w of workers) {
      w.kill('SIGCONT');
      w.kill('SIGKILL');
    }
    await Promise.all(exits);
    admin.disconnect();
    await redis.destroy();
  }
}

/**
 * Resolves once `child` is inside a section: more `b` lines than `e` lines in all it has printed
 * (`out`, collected as it comes), looked at now and whenever it writes. Rejects after 10 s.
 */
function inSection(child: ChildProcess, out: { stdout: string }): Promise<void> {
  let read = 0;
  let open = 0;
  let look = (): void => {};
  const entered = new Promise<void>((resolve) => {
    look = () => {
      const end = out.stdout.lastIndexOf('\n') + 1;
      for (const line of out.stdout.slice(read, end).split('\n')) {
        if (line.startsWith('b ')) open++;
        else if (line.startsWith('e ')) open--;
      }
      read = end;
      if (open > 0) resolve();
    };
  });
  child.stdout!.on('data', look);
  look();
  return within(entered, 10_000, 'a worker inside a section').finally(() => child.stdout!.off('data', look));
}

// The RedisSemaphore fault campaign (issue 23): `npm run faults` writes its table into
// docs/reliability.md. Each scenario starts a real redis-server and 3 worker processes
// (worker.ts) that share one RedisSemaphore, lets them run, applies one fault 2 s in, and counts
// what overlap.ts defines from every section they recorded.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { type RedisServer, startRedis } from '../redis/server.js';
import { collect, waitFor } from '../support/child.js';
import { afterResume, believed, type Fate, maxOverlap, recovery, type Section } from './overlap.js';
import type { WorkerConfig, WorkerSummary } from './worker.js';

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
   * process is stopped, so that a section holding a permit it should not have would run on past
   * the resumed process's first turn, where the count sees it.
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
    apply: async ({ workers, fates, inSection }) => {
      await inSection(0);
      fates[0]!.killedAt = now();
      workers[0]!.kill('SIGKILL');
      await once(workers[0]!, 'close');
    },
  },
];

export interface Result {
  fault: Fault;
  permits: number;
  sections: number;
  /** Most sections that overlapped while believing they held a permit; must be ≤ permits. */
  believedMax: number;
  /** Most sections that overlapped at all, stopped and lost ones included. */
  overallMax: number;
  /** For a fault on worker 0 (stopped, killed): how many sections it was in at the fault. */
  heldAtFault: number | undefined;
  /** Longest a section of a stopped process still believed after SIGCONT (ms). */
  afterResume: number | undefined;
  /** ms from the fault's end to the throughput back at 80 % of before; undefined if not in the run. */
  recovered: number | undefined;
  errors: Record<string, number>;
  calls: number;
  settled: number;
  /** Exit code (or signal) of each worker. */
  exits: Array<number | string>;
}

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
    await fault.apply({ redis, admin, workers, fates, inSection: (i) => inSection(workers[i]!) });
    const faultEnd = now();
    options.log?.(
      `  ${fault.name}: fault from ${Math.round(faultAt - started)} to ${Math.round(faultEnd - started)} ms`,
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const bound = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), ms + 30_000);
    });
    const ended = await Promise.race([Promise.all(exits), bound]);
    clearTimeout(timer);
    if (ended === 'timeout') for (const w of workers) w.kill('SIGKILL');
    const codes = ended === 'timeout' ? exits.map(() => 'did not exit' as const) : ended;
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

function measure(
  fault: Fault,
  permits: number,
  outs: Array<{ stdout: string }>,
  fates: Fate[],
  exits: Array<number | string>,
  t: { started: number; faultAt: number; faultEnd: number; runEnd: number },
): Result {
  const sections: Section[] = [];
  const errors: Record<string, number> = {};
  let calls = 0;
  let settled = 0;
  outs.forEach((out, worker) => {
    const open = new Map<string, Section>();
    for (const line of out.stdout.split('\n')) {
      const [tag, a, b, c] = line.split(' ');
      if (tag === 'b') {
        const section: Section = { worker, start: Number(b), end: undefined, lost: undefined };
        open.set(a!, section);
        sections.push(section);
      } else if (tag === 'e') {
        const section = open.get(a!)!;
        section.end = Number(b);
        section.lost = c === '-' ? undefined : Number(c);
      } else if (tag === 'done') {
        const summary = JSON.parse(line.slice(5)) as WorkerSummary;
        calls += summary.calls;
        settled += summary.settled;
        for (const [code, n] of Object.entries(summary.errors)) errors[code] = (errors[code] ?? 0) + n;
      }
    }
  });
  const fateOf = (s: Section) => fates[s.worker]!;
  const spans = sections.flatMap((s) => believed(s, fateOf(s)).map((span) => ({ s, span })));
  const peak = maxOverlap(spans.map((x) => x.span));
  if (peak.max > permits) explain(fault, spans, peak.at!, fates, t.started, outs);
  const tails = sections.map((s) => afterResume(s, fateOf(s))).filter((x) => x !== undefined);
  return {
    fault,
    permits,
    sections: sections.length,
    believedMax: peak.max,
    overallMax: maxOverlap(sections.map((s) => [s.start, s.end ?? fateOf(s).killedAt ?? t.runEnd])).max,
    heldAtFault: heldAt(sections, fates[0]!.stopped?.from ?? fates[0]!.killedAt),
    afterResume: tails.length === 0 ? undefined : Math.max(...tails),
    recovered:
      fault.name === 'none'
        ? undefined
        : recovery(
            sections.map((s) => s.start),
            [t.started + 300, t.faultAt],
            t.faultEnd,
            t.runEnd,
          ),
    errors,
    calls,
    settled,
    exits,
  };
}

/** How many sections of worker 0 were open at `at` (its stop or its kill), if there was one. */
function heldAt(sections: Section[], at: number | undefined): number | undefined {
  if (at === undefined) return undefined;
  return sections.filter((s) => s.worker === 0 && s.start <= at && (s.end ?? Number.POSITIVE_INFINITY) > at)
    .length;
}

/** Resolves at the first output of `child` after which it is inside a section (more b than e lines). */
function inSection(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    let open = 0;
    let rest = '';
    const look = (chunk: Buffer | string) => {
      const lines = (rest + chunk.toString()).split('\n');
      rest = lines.pop()!;
      for (const line of lines) {
        if (line.startsWith('b ')) open++;
        else if (line.startsWith('e ')) open--;
      }
      if (open <= 0) return;
      child.stdout!.off('data', look);
      resolve();
    };
    child.stdout!.on('data', look);
  });
}

/** On stderr: the sections that believed at once at `at`, more than the permits, for whoever looks into it. */
function explain(
  fault: Fault,
  spans: Array<{ s: Section; span: [number, number] }>,
  at: number,
  fates: Fate[],
  started: number,
  outs: Array<{ stdout: string }>,
): void {
  const ms = (x: number | undefined) => (x === undefined ? '-' : (x - started).toFixed(2));
  const stop = fates[0]!.stopped;
  const lines = [
    `${fault.name}: over the permits at ${ms(at)} ms (from the start; worker 0 stopped ${ms(stop?.from)}-${ms(stop?.to)})`,
  ];
  for (const { s } of spans.filter((x) => x.span[0] <= at && at < x.span[1])) {
    lines.push(`  worker ${s.worker}: section ${ms(s.start)} to ${ms(s.end)}, signal aborted ${ms(s.lost)}`);
  }
  const why = new Set(
    outs.flatMap((o) =>
      o.stdout
        .split('\n')
        .filter((l) => l.startsWith('l '))
        .map((l) => l.split(' ').slice(2).join(' ')),
    ),
  );
  for (const reason of why) lines.push(`  a signal aborted: ${reason}`);
  process.stderr.write(`${lines.join('\n')}\n`);
}

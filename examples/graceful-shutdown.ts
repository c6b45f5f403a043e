// Seed 002's app on SIGTERM (issue 21): an HTTP API, a pool its requests use, and two background
// updaters, one of which sits in a receive that takes no signal. The hand-written handler,
// `server.close(() => process.exit(0))`, waits for every connection to end: a client that keeps its
// connection alive and keeps using it (an ingress, another service's agent) never lets it, and the
// pod sits in Terminating until the kubelet's SIGKILL, with nothing said about what ran. Under a
// Lifecycle the server stops accepting at once, the request in flight completes, the kept-alive
// connection is closed as soon as it is idle, the updaters are aborted, and the process exits within
// its budget with code 1, naming the updater that ignored the abort.
//
//   npx tsx examples/graceful-shutdown.ts                   (the story: both apps in a child process, SIGTERM from here)
//   npx tsx examples/graceful-shutdown.ts --serve [--naive] (the app alone, until it gets SIGTERM)
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Agent, createServer, get } from 'node:http';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Lifecycle } from '../src/lifecycle/lifecycle.js';
import { WorkerPool } from '../src/pool/index.js';
import { TaskRegistry } from '../src/registry/registry.js';

/** The whole shutdown's budget: what the app gets between SIGTERM and its exit. */
export const BUDGET_MS = 1_500;
/** How long the story waits for the naive app to exit before it SIGKILLs it, as the kubelet would. */
export const KILL_AFTER_MS = 4_000;
/** How long `/slow` takes: it is in flight when SIGTERM comes. */
const SLOW_MS = 400;

/** A message receiver that takes no AbortSignal, like the seed's Service Bus receiver: a 60 s long poll. */
function receive(): Promise<undefined> {
  return new Promise((resolve) => setTimeout(resolve, 60_000, undefined));
}

/** The app: the same parts either way; only what SIGTERM does differs. */
async function serve(naive: boolean): Promise<void> {
  const life = new Lifecycle({ name: 'api', timeout: BUDGET_MS });
  life.defer(() => sleep(20), { name: 'flush-metrics' }); // created first, so stopped last
  const pool = life.use(new WorkerPool({ concurrency: 4, name: 'feeds' }));
  const tasks = life.use(new TaskRegistry({ name: 'updaters' }));
  tasks.spawn('airlock-status-updater', async (signal) => {
    while (!signal.aborted) await receive(); // checks its signal, but only between receives
  });
  tasks.spawn('deployment-status-updater', async (signal) => {
    for (;;) await sleep(250, undefined, { signal }); // polls, and stops at once when aborted
  });
  const server = life.use(
    createServer((req, res) => {
      if (req.url === '/ready') res.writeHead(life.state === 'running' ? 200 : 503).end(life.state);
      else if (req.url === '/slow') void pool.run(() => sleep(SLOW_MS)).then(() => res.end('slow done'));
      else res.end('ok');
    }),
  );
  if (naive) process.once('SIGTERM', () => server.close(() => process.exit(0)));
  else life.handleSignals();
  server.listen(0, '127.0.0.1', () => {
    console.log(`listening ${(server.address() as { port: number }).port}`);
  });
}

export interface ShutdownRun {
  /** ms from SIGTERM to the process's exit (or to its SIGKILL). */
  exitMs: number;
  /** The exit code; `undefined` when it had to be killed. */
  code: number | undefined;
  killed: boolean;
  /** ms from SIGTERM until a new connection was refused; `undefined` if none was within the run. */
  refusedMs: number | undefined;
  /** The request in flight at SIGTERM got its answer. */
  inFlightCompleted: boolean;
  /** Answers the kept-alive client got after SIGTERM. */
  keptAliveAnswers: number;
  /** What the app wrote to stderr: the Lifecycle's report when the shutdown was not clean. */
  stderr: string;
}

/**
 * Starts the app in a child process, keeps one client polling `/ready` every 50 ms on one kept-alive
 * connection (an ingress, another service's agent), sends `/slow` on it too, and SIGTERM while that
 * is in flight; then measures what follows.
 */
export async function runShutdown(naive: boolean): Promise<ShutdownRun> {
  const script = fileURLToPath(import.meta.url);
  const args = ['--import', 'tsx', script, '--serve', ...(naive ? ['--naive'] : [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = once(child, 'exit').then(() => performance.now());
  while (!/listening \d+/.test(stdout)) {
    if (child.exitCode !== null) throw new Error(`the app exited before listening:\n${stderr}`);
    await Promise.race([once(child.stdout, 'data'), exited]);
  }
  const port = Number(/listening (\d+)/.exec(stdout)![1]);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const ask = (path: string, via: Agent | false) =>
    new Promise<string | undefined>((resolve) => {
      get({ host: '127.0.0.1', port, path, agent: via }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve(body));
      }).on('error', () => resolve(undefined));
    });
  // The kept-alive client: one connection, reused for every poll.
  let polling = true;
  let signalledAt = Number.POSITIVE_INFINITY;
  let keptAliveAnswers = 0;
  const poller = (async () => {
    while (polling) {
      if ((await ask('/ready', agent)) !== undefined && performance.now() > signalledAt) keptAliveAnswers++;
      await sleep(50);
    }
  })();
  await sleep(200);
  const slow = ask('/slow', agent); // on the kept-alive connection: the next poll waits behind it
  await sleep(50); // /slow is running in the pool now
  signalledAt = performance.now();
  child.kill('SIGTERM');
  const refused = (async () => {
    for (let i = 0; i < 500; i++) {
      const ok = await new Promise<boolean>((resolve) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.destroy();
          resolve(true);
        });
        socket.on('error', () => resolve(false));
      });
      if (!ok) return performance.now() - signalledAt;
      await sleep(2);
    }
    return undefined;
  })();
  const killer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
  const exitAt = await exited;
  clearTimeout(killer);
  polling = false;
  agent.destroy();
  await poller;
  const refusedMs = await refused;
  return {
    exitMs: Math.round(exitAt - signalledAt),
    code: child.exitCode ?? undefined,
    killed: child.signalCode === 'SIGKILL',
    refusedMs: refusedMs === undefined ? undefined : Math.round(refusedMs),
    inFlightCompleted: (await slow) === 'slow done',
    keptAliveAnswers,
    stderr,
  };
}

export interface GracefulShutdownResult {
  naive: ShutdownRun;
  unwedge: ShutdownRun;
  cured: boolean;
}

/** Both handlers, one after the other, for the hang lab. */
export async function gracefulShutdownStory(): Promise<GracefulShutdownResult> {
  const naive = await runShutdown(true);
  const unwedge = await runShutdown(false);
  const cured =
    naive.killed &&
    !unwedge.killed &&
    unwedge.code === 1 &&
    unwedge.inFlightCompleted &&
    unwedge.refusedMs !== undefined &&
    unwedge.refusedMs < 200 &&
    unwedge.exitMs < BUDGET_MS + 1_000 &&
    unwedge.stderr.includes('"airlock-status-updater"') &&
    !unwedge.stderr.includes('"deployment-status-updater"');
  return { naive, unwedge, cured };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  if (process.argv.includes('--serve')) {
    await serve(process.argv.includes('--naive'));
  } else {
    const { naive, unwedge, cured } = await gracefulShutdownStory();
    const line = (r: ShutdownRun) =>
      `${r.killed ? `no exit within ${KILL_AFTER_MS} ms: SIGKILL` : `exit ${r.code} after ${r.exitMs} ms`}; ` +
      `new connections refused after ${r.refusedMs ?? '-'} ms; request in flight ${r.inFlightCompleted ? 'completed' : 'lost'}; ` +
      `${r.keptAliveAnswers} answers on the kept-alive connection after SIGTERM`;
    console.log(`server.close(() => process.exit(0)): ${line(naive)}`);
    console.log(`Lifecycle.handleSignals():          ${line(unwedge)}`);
    console.log(`\nwhat the Lifecycle printed on stderr:\n${unwedge.stderr}`);
    process.exitCode = cured ? 0 : 1;
  }
}

// Seeds 002 and 003: an HTTP app starts two background updaters at start-up. Fire-and-forget,
// nobody holds them, names them, hears them fail or stops them: the airlock updater dies on a
// malformed message without a word, and the deployment updater hangs forever in a database
// connect with no timeout (the database accepts and never answers). Through a TaskRegistry each
// failure is reported with the task's name, stack and cause; the connect is bounded by
// `withTimeout` and retried; and on SIGTERM the app stops accepting connections, shuts the
// registry down with a deadline and exits, naming the task that ignored the abort.
//
//   npx tsx examples/app-lifespan.ts            (sends itself SIGTERM after ~1 s, as an orchestrator would)
//   npx tsx examples/app-lifespan.ts --serve    (runs until it gets SIGTERM)
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { type RegistryShutdownReport, type TaskInfo, TaskRegistry } from '../src/registry/registry.js';
import { withTimeout } from '../src/timeout.js';
import { connectDb } from './lib/db.js';
import { get, listen, silentTcpServer } from './lib/http.js';

export { connectDb } from './lib/db.js';

export const CONNECT_TIMEOUT_MS = 150;
const CONNECT_ATTEMPTS = 3;
const RETRY_BACKOFF_MS = 50;
/** The bus delivers MESSAGES messages, one every MESSAGE_EVERY_MS; every third is malformed. */
export const MESSAGES = 9;
const MESSAGE_EVERY_MS = 100;
/** A receive with nothing to deliver waits this long: a long poll, and it takes no AbortSignal. */
const LONG_POLL_MS = 5_000;
export const SHUTDOWN_DEADLINE_MS = 500;
/** When the default run sends itself SIGTERM: after the last message, so the bus is idle. */
const SELF_SIGTERM_AFTER_MS = 1_100;

interface Message {
  seq: number;
  body: { airlockId: string; status: string } | undefined;
}

/** An in-process message bus standing in for Service Bus: a burst of messages, then a quiet line. */
class Bus {
  private seq = 0;
  private readonly ready: Message[] = [];
  private readonly polls = new Set<{ resolve: (m: Message | undefined) => void; timer: NodeJS.Timeout }>();
  private readonly producer: NodeJS.Timeout;
  handled = 0;

  constructor() {
    this.producer = setInterval(() => {
      this.seq++;
      const body = this.seq % 3 === 0 ? undefined : { airlockId: `al-${this.seq}`, status: 'approved' };
      this.deliver({ seq: this.seq, body });
      if (this.seq === MESSAGES) clearInterval(this.producer);
    }, MESSAGE_EVERY_MS);
  }

  /** The next message, or `undefined` after a long poll with none. Takes no signal, like the seed's receiver. */
  receive(): Promise<Message | undefined> {
    const message = this.ready.shift();
    if (message !== undefined) return Promise.resolve(message);
    return new Promise((resolve) => {
      const poll = {
        resolve,
        timer: setTimeout(() => {
          this.polls.delete(poll);
          resolve(undefined);
        }, LONG_POLL_MS),
      };
      this.polls.add(poll);
    });
  }

  private deliver(message: Message): void {
    const [poll] = this.polls;
    if (poll === undefined) {
      this.ready.push(message);
      return;
    }
    this.polls.delete(poll);
    clearTimeout(poll.timer);
    poll.resolve(message);
  }

  /** Disconnects: ends every pending long poll with no message and stops producing. */
  close(): void {
    clearInterval(this.producer);
    for (const poll of this.polls) {
      clearTimeout(poll.timer);
      poll.resolve(undefined);
    }
    this.polls.clear();
  }
}

function handleAirlockMessage(bus: Bus, message: Message): void {
  if (message.body === undefined) throw new Error(`airlock message #${message.seq} has no body`);
  bus.handled++;
}

/** Seed 002's AirlockStatusUpdater: handles messages until aborted, but its receive cannot be interrupted. */
async function airlockStatusUpdater(signal: AbortSignal, bus: Bus): Promise<void> {
  for (;;) {
    signal.throwIfAborted();
    const message = await bus.receive();
    if (message !== undefined) handleAirlockMessage(bus, message);
  }
}

/** Seed 002's DeploymentStatusUpdater, with seed 003's connect: bounded by withTimeout, retried, then failed. */
async function deploymentStatusUpdater(signal: AbortSignal, dbPort: number): Promise<void> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= CONNECT_ATTEMPTS; attempt++) {
    try {
      const socket = await withTimeout((s) => connectDb(dbPort, s), CONNECT_TIMEOUT_MS, {
        signal,
        name: 'db-connect',
      });
      socket.destroy(); // (never reached: the database never answers)
      return;
    } catch (error) {
      if (signal.aborted) throw error; // the registry's shutdown: not a failure of ours
      lastError = error;
      await sleep(RETRY_BACKOFF_MS, undefined, { signal });
    }
  }
  throw new Error(`database unreachable after ${CONNECT_ATTEMPTS} connect attempts`, { cause: lastError });
}

/** Runs `fn` as a named task and starts it again whenever it fails, until the registry shuts down. */
function keepRunning(registry: TaskRegistry, name: string, fn: (signal: AbortSignal) => Promise<void>): void {
  const start = (): void => {
    if (registry.closed) return;
    // The registry has already reported the failure; here we only restart.
    registry.spawn(name, fn).done.catch(start);
  };
  start();
}

export interface App {
  port: number;
  registry: TaskRegistry;
  bus: Bus;
  /** What SIGTERM does: stop accepting connections, shut the registry down within the deadline. */
  stop(): Promise<{ report: RegistryShutdownReport; ms: number }>;
  /** Connections the database holds open now. */
  dbConnections(): number;
  /** For an in-process run: disconnect the bus (ending the straggler's poll) and close the database. */
  dispose(): Promise<void>;
}

export async function startApp(options: {
  onError?: (error: unknown, task: TaskInfo) => void;
}): Promise<App> {
  const db = await silentTcpServer();
  const bus = new Bus();
  const registry = new TaskRegistry({ name: 'app', onError: options.onError });
  const http = await listen((req, res) => {
    if (req.url === '/tasks') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(registry.list()));
      return;
    }
    res.end('ok');
  });
  keepRunning(registry, 'deployment-status-updater', (signal) => deploymentStatusUpdater(signal, db.port));
  keepRunning(registry, 'airlock-status-updater', (signal) => airlockStatusUpdater(signal, bus));
  return {
    port: http.port,
    registry,
    bus,
    async stop() {
      const started = performance.now();
      const closed = http.close(); // stops accepting connections (and drops the open ones)
      const report = await registry.shutdown({ timeout: SHUTDOWN_DEADLINE_MS });
      await closed;
      return { report, ms: Math.round(performance.now() - started) };
    },
    dbConnections: () => db.connections(),
    async dispose() {
      bus.close();
      for (let i = 0; i < 100 && registry.size > 0; i++) await sleep(5);
      await db.close();
    },
  };
}

export interface AppLifespanResult {
  naive: {
    /** Failures that happened / that anyone saw. */
    failuresHappened: number;
    /** Always 0: the `.catch(() => {})` that keeps a failure from crashing the app also hides it. */
    failuresLogged: number;
    airlockMessagesHandled: number;
    /** The connect started at start-up, still hanging when the app "shut down". */
    dbConnectStillOpenAfterShutdown: boolean;
    /** When each failure happened, in ms since start-up (nobody was told). */
    failureTimes: number[];
    /** When the app "shut down", in ms since start-up. */
    shutdownAt: number;
  };
  unwedge: {
    failuresLogged: number;
    /** Each failure reported, `at` ms since start-up. */
    failures: Array<{
      task: string;
      message: string;
      cause: string | undefined;
      hasStack: boolean;
      at: number;
    }>;
    airlockMessagesHandled: number;
    shutdownMs: number;
    /** When SIGTERM's shutdown began, in ms since start-up. */
    shutdownAt: number;
    cancelled: string[];
    stragglers: string[];
    dbConnectionsLeft: number;
  };
  cured: boolean;
}

/** The naive start-up: `void updater().catch(() => {})` so that a failure "does not crash the app". */
async function runNaive(): Promise<AppLifespanResult['naive']> {
  const db = await silentTcpServer();
  const started = performance.now();
  const bus = new Bus();
  let failuresHappened = 0;
  const failureTimes: number[] = [];
  const failed = () => {
    failuresHappened++;
    failureTimes.push(Math.round(performance.now() - started)); // for the demo's picture only
  };
  const http = await listen((_req, res) => res.end('ok'));
  void (async () => {
    const socket = await connectDb(db.port); // no timeout: waits for a greeting that never comes
    socket.destroy();
  })().catch(failed);
  void (async () => {
    for (;;) {
      const message = await bus.receive();
      if (message !== undefined) handleAirlockMessage(bus, message);
    }
  })().catch(failed); // dies at message #3; nobody hears it, nobody restarts it
  await sleep(SELF_SIGTERM_AFTER_MS);
  const shutdownAt = Math.round(performance.now() - started);
  await http.close(); // "shutdown": there is nothing to find, cancel or wait for
  await sleep(100);
  const stillOpen = db.connections() > 0;
  bus.close();
  await db.close();
  return {
    failuresHappened,
    failuresLogged: 0,
    airlockMessagesHandled: bus.handled,
    dbConnectStillOpenAfterShutdown: stillOpen,
    failureTimes,
    shutdownAt,
  };
}

async function runWithRegistry(): Promise<AppLifespanResult['unwedge']> {
  const failures: AppLifespanResult['unwedge']['failures'] = [];
  const started = performance.now();
  const app = await startApp({
    onError: (error, task) =>
      failures.push({
        task: task.name,
        message: (error as Error).message,
        cause: ((error as Error).cause as Error | undefined)?.message,
        hasStack: String((error as Error).stack).includes('\n    at '),
        at: Math.round(performance.now() - started),
      }),
  });
  const health = await get(app.port, '/health');
  if (health.status !== 200) throw new Error('the app did not answer');
  await sleep(SELF_SIGTERM_AFTER_MS);
  const shutdownAt = Math.round(performance.now() - started);
  const { report, ms } = await app.stop();
  await sleep(50); // let the aborted connect's FIN reach the database before counting
  const dbConnectionsLeft = app.dbConnections();
  await app.dispose();
  return {
    failuresLogged: failures.length,
    failures,
    airlockMessagesHandled: app.bus.handled,
    shutdownMs: ms,
    shutdownAt,
    cancelled: report.cancelled,
    stragglers: report.stragglers,
    dbConnectionsLeft,
  };
}

/** Runs the naive start-up and the TaskRegistry one in-process and reports what each let us see. */
export async function appLifespanStory(): Promise<AppLifespanResult> {
  const naive = await runNaive();
  const unwedge = await runWithRegistry();
  const names = new Set(unwedge.failures.map((f) => f.task));
  const cured =
    naive.failuresHappened > 0 &&
    naive.failuresLogged === 0 &&
    naive.dbConnectStillOpenAfterShutdown &&
    names.has('airlock-status-updater') &&
    names.has('deployment-status-updater') &&
    unwedge.failures.every((f) => f.hasStack) &&
    unwedge.stragglers.join() === 'airlock-status-updater' &&
    unwedge.dbConnectionsLeft === 0 &&
    unwedge.shutdownMs < SHUTDOWN_DEADLINE_MS + 200;
  return { naive, unwedge, cured };
}

/** The app as a process: failures go to stderr (the registry's default); SIGTERM shuts it down. */
async function serve(selfTerminate: boolean): Promise<void> {
  const app = await startApp({});
  console.log(`app listening on http://127.0.0.1:${app.port}`);
  process.once('SIGTERM', () => {
    console.log(
      `SIGTERM: no longer accepting connections; shutting down ${app.registry.size} background tasks ` +
        `(deadline ${SHUTDOWN_DEADLINE_MS} ms)`,
    );
    app.stop().then(({ report, ms }) => {
      console.log(
        `shutdown took ${ms} ms: cancelled: ${report.cancelled.join(', ') || '-'}; ` +
          `failed: ${report.failed.map((f) => f.name).join(', ') || '-'}; ` +
          `stragglers: ${report.stragglers.join(', ') || '-'}`,
      );
      // A straggler cannot be stopped from outside; exiting is what ends it.
      process.exit(0);
    });
  });
  if (selfTerminate) setTimeout(() => process.kill(process.pid, 'SIGTERM'), SELF_SIGTERM_AFTER_MS);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await serve(!process.argv.includes('--serve'));
}

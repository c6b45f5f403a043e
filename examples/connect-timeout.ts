// Seed 003: a handler awaits a database connect that has no timeout. The database accepts the
// connection and never answers, so the request hangs forever and nothing is logged.
// With `withTimeout`, the connect is aborted after 300 ms and the client gets a 504 at once.
//
//   npx tsx examples/connect-timeout.ts
import type { Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import { TimeoutError, withTimeout } from '../src/index.js';
import { connectDb } from './lib/db.js';
import { get, type Latency, listen, probe, silentTcpServer } from './lib/http.js';

const CONNECT_TIMEOUT_MS = 300;
const CLIENT_LIMIT_MS = 1_500;

/** What the client saw of one of the three requests sent at once: `status` undefined = no answer. */
export interface ReportReply {
  status: number | undefined;
  ms: number;
}

export interface ConnectStoryResult {
  naive: {
    status: number | undefined;
    ms: number;
    health: Latency;
    openConnections: number;
    replies: ReportReply[];
  };
  unwedge: {
    status: number | undefined;
    ms: number;
    body: string;
    health: Latency;
    openConnections: number;
    replies: ReportReply[];
  };
  cured: boolean;
}

/**
 * Starts the app: `/report` connects to a database that never answers (guarded by withTimeout or
 * not), `/health` answers at once. `close()` stops both servers and every socket.
 */
export async function startReportServer(guarded: boolean) {
  const db = await silentTcpServer();
  const open = new Set<Socket>();
  const app = await listen(async (req, res) => {
    if (req.url === '/health') {
      res.end('ok');
      return;
    }
    try {
      const socket = guarded
        ? await withTimeout((signal) => connectDb(db.port, signal), CONNECT_TIMEOUT_MS, {
            name: 'db-connect',
          })
        : await connectDb(db.port);
      open.add(socket);
      res.end('report');
    } catch (error) {
      res.statusCode = error instanceof TimeoutError ? 504 : 500;
      res.end(String(error));
    }
  });
  return {
    port: app.port,
    /** Database connections open (or still being attempted) right now. */
    dbConnections: () => db.connections(),
    close: async () => {
      for (const socket of open) socket.destroy();
      await app.close();
      await db.close();
    },
  };
}

async function runVariant(guarded: boolean) {
  const app = await startReportServer(guarded);
  const health = probe(app.port);
  const replies = await Promise.all([1, 2, 3].map(() => get(app.port, '/report', CLIENT_LIMIT_MS)));
  const latency = await health.stop();
  // Give the aborted connects' FINs a moment to reach the server before counting.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const openConnections = app.dbConnections();
  await app.close();
  const reply = replies[0]!;
  return {
    status: reply.status,
    ms: Math.round(reply.ms),
    body: reply.body,
    health: latency,
    openConnections,
    replies: replies.map((r) => ({ status: r.status, ms: Math.round(r.ms) })),
  };
}

/** Runs the naive and the guarded route and reports what a client saw. */
export async function connectTimeoutStory(): Promise<ConnectStoryResult> {
  const naive = await runVariant(false);
  const unwedge = await runVariant(true);
  const cured =
    naive.status === undefined &&
    unwedge.openConnections === 0 &&
    unwedge.status === 504 &&
    unwedge.ms < CONNECT_TIMEOUT_MS + 500 &&
    unwedge.health.max < 100;
  return { naive, unwedge, cured };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const result = await connectTimeoutStory();
  console.log(`naive:   /report -> ${result.naive.status ?? `no answer after ${result.naive.ms} ms`}`);
  console.log(
    `unwedge: /report -> ${result.unwedge.status} in ${result.unwedge.ms} ms: ${result.unwedge.body}`,
  );
  console.log(
    `db connections left open: naive ${result.naive.openConnections}, unwedge ${result.unwedge.openConnections}`,
  );
  console.log(`/health p99 ${result.unwedge.health.p99} ms throughout (max ${result.unwedge.health.max} ms)`);
  process.exitCode = result.cured ? 0 : 1;
}

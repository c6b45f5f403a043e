// Seeds 003 and 001, seen from outside: "the process just vanishes". An upload route answers at
// once and leaves a background job that awaits a database connect, under withTimeout with a
// 10-minute limit; the database accepts the connection and never says a word. A transcribe route
// puts jobs on a bounded queue whose consumer crashed on the first job, so the next put waits
// forever. Nothing is logged, and a Node process has no py-spy: an await that never resumes leaves
// no stack behind. But every wait in unwedge is known, so `GET /debug/unwedge` shows both, with
// their ages and the line of the await that started each, and the stall watcher has already
// written them to stderr.
//
//   npx tsx examples/where-is-it-stuck.ts
import { pathToFileURL } from 'node:url';
import { ClosedError } from '../src/errors.js';
import { createInspectHandler } from '../src/inspect/http.js';
import {
  configure,
  type InspectReport,
  type Stall,
  type WaitReport,
  watchStalls,
  writeStall,
} from '../src/inspect/index.js';
import { BoundedQueue } from '../src/queue/queue.js';
import { withTimeout } from '../src/timeout.js';
import { connectDb } from './lib/db.js';
import { get, listen, silentTcpServer } from './lib/http.js';

/** A wait older than this is a stall (short, so that the demo does not take long). */
const STALL_MS = 200;
/** The connect's limit: long enough that, at the time we look, it is simply stuck. */
const CONNECT_LIMIT_MS = 10 * 60_000;

export interface WhereIsItStuckResult {
  /** `GET /debug/unwedge`, as text. */
  dump: string;
  /** `GET /debug/unwedge?format=json`. */
  report: InspectReport;
  /** The two stuck waits as the dump lists them. */
  connect: WaitReport | undefined;
  put: WaitReport | undefined;
  /** What the stall watcher reported before anyone looked (and the ends, at shutdown). */
  stalls: Stall[];
  /** The status of /upload (answered at once) and of the hung /transcribe once we shut down. */
  uploadStatus: number | undefined;
  hungTranscribeStatus: number | undefined;
}

/** Starts the server, makes it hang both ways, and looks at it the way an operator would. */
export async function whereIsItStuck(options: { echo?: boolean } = {}): Promise<WhereIsItStuckResult> {
  const previous = configure({ captureOrigins: true }); // in production: UNWEDGE_ORIGINS=1
  const stalls: Stall[] = [];
  let bothReported!: () => void;
  const reported = new Promise<void>((resolve) => {
    bothReported = resolve;
  });
  const watcher = watchStalls({
    threshold: STALL_MS,
    interval: 50,
    onStall: (stall) => {
      if (stall.name !== 'transcribe-jobs' && stall.what !== '"db-connect"') return; // not ours
      stalls.push(stall);
      if (options.echo) writeStall(stall);
      if (stalls.filter((s) => s.phase === 'stalled').length === 2) bothReported();
    },
  });

  const db = await silentTcpServer();
  const shutdown = new AbortController();
  const background = new Set<Promise<void>>();

  // Seed 003: the background job that "fails silently". It is stuck on the connect below.
  async function processUpload(file: string): Promise<void> {
    const socket = await withTimeout((signal) => connectDb(db.port, signal), CONNECT_LIMIT_MS, {
      name: 'db-connect',
      signal: shutdown.signal,
    });
    socket.end(`INSERT rows of ${file}`);
  }

  // Seed 001: the consumer dies on the first job, and nobody notices.
  const queue = new BoundedQueue<string>({ capacity: 1, name: 'transcribe-jobs' });
  const consumer = (async () => {
    for await (const job of queue) throw new Error(`transcriber crashed on ${job}`);
  })().catch(() => {});

  const debug = createInspectHandler();
  const app = await listen(async (req, res) => {
    const url = req.url ?? '/';
    if (url.startsWith('/debug/unwedge')) {
      debug(req, res);
      return;
    }
    if (url.startsWith('/upload')) {
      const job = processUpload('data.csv').catch(() => {}); // fire and forget, as in the seed
      background.add(job);
      res.statusCode = 202;
      res.end('processing');
      return;
    }
    if (url.startsWith('/transcribe')) {
      try {
        await queue.put(url); // no timeout: waits as long as the queue stays full
        res.statusCode = 202;
        res.end('queued');
      } catch (error) {
        res.statusCode = error instanceof ClosedError ? 503 : 500;
        res.end(String(error));
      }
      return;
    }
    res.statusCode = 404;
    res.end();
  });

  try {
    const upload = await get(app.port, '/upload');
    await get(app.port, '/transcribe?job=1'); // taken by the consumer, which then dies
    await get(app.port, '/transcribe?job=2'); // fills the queue
    const hung = get(app.port, '/transcribe?job=3', 30_000); // waits for room that never comes

    await reported; // the stall watcher has written both to stderr by now
    const dump = (await get(app.port, '/debug/unwedge')).body;
    const report = JSON.parse((await get(app.port, '/debug/unwedge?format=json')).body) as InspectReport;
    const find = (kind: string, what: string) =>
      report.primitives.find((p) => p.kind === kind)?.waits.find((w) => w.what === what);

    // Shut down: the hung put rejects (503), the connect is aborted and its socket closed.
    queue.shutdown({ immediate: true });
    shutdown.abort(new Error('server shutting down'));
    const hungReply = await hung;
    await Promise.all([...background, consumer]);
    return {
      dump,
      report,
      connect: find('withTimeout', '"db-connect"'),
      put: report.primitives
        .find((p) => p.kind === 'queue' && p.name === 'transcribe-jobs')
        ?.waits.find((w) => w.what === 'put'),
      stalls,
      uploadStatus: upload.status,
      hungTranscribeStatus: hungReply.status,
    };
  } finally {
    queue.shutdown({ immediate: true });
    shutdown.abort(new Error('server shutting down'));
    watcher.stop();
    configure(previous);
    await app.close();
    await db.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.stdout.write(`(the stall watcher's reports, on stderr:)\n`);
  const result = await whereIsItStuck({ echo: true });
  process.stdout.write(`\n$ curl http://127.0.0.1:<port>/debug/unwedge\n${result.dump}`);
  const found = result.connect !== undefined && result.put !== undefined;
  process.stdout.write(
    `\n/upload answered ${result.uploadStatus} at once; the hung /transcribe got ${result.hungTranscribeStatus} at shutdown.\n`,
  );
  process.exitCode = found ? 0 : 1;
}

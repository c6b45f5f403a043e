// The hang lab: runs every seed story end to end on loopback servers, the naive code first and then
// the unwedge version, prints one block per story (at most 100 columns wide) and draws a picture of
// all six. Exits non-zero if an unwedge version fails to cure its story.
//
//   npm run demo                  the blocks; the picture goes to a fresh folder under the system's
//                                 temp directory, whose path is printed at the end
//   npm run demo -- --out docs/   the picture goes to docs/hang-lab.svg (the README's copy)
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { appLifespanStory, MESSAGES } from './app-lifespan.js';
import { connectTimeoutStory } from './connect-timeout.js';
import { BUDGET_MS, gracefulShutdownStory, KILL_AFTER_MS } from './graceful-shutdown.js';
import { type Panel, renderSvg, type Series } from './lib/plot.js';
import { BURST, breakLine, chosenLines, metricsStory } from './metrics.js';
import { storageFanOutStory } from './storage-fan-out.js';
import { streamRouteStory } from './stream-route.js';
import { stuckQueueStory } from './stuck-queue-server.js';

const COLUMNS = 100;
const USAGE = 'usage: npm run demo [-- --out <folder>]   (the picture is <folder>/hang-lab.svg)';

/** One row of a story's table: what was measured, then the naive code's figure and unwedge's. */
type Row = [label: string, naive: string, unwedge: string];

interface Outcome {
  rows: Row[];
  /** Lines printed under the table, e.g. the error a client was sent. */
  notes?: string[];
  cured: boolean;
  panel: Omit<Panel, 'title' | 'seed'>;
}

interface Story {
  /** What the story is, in plain words. */
  title: string;
  /** The incident report it reproduces (the hazard pages cite the same numbers). */
  seed: string;
  /** The hazard in one plain sentence. */
  hazard: string;
  /** What the naive code and the unwedge code do. */
  code: [naive: string, unwedge: string];
  run(): Promise<Outcome>;
}

/** Splits `text` into lines of at most `width` columns, at spaces where it can. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    for (let rest = word; ; ) {
      const joined = line === '' ? rest : `${line} ${rest}`;
      if (joined.length <= width) {
        line = joined;
        break;
      }
      if (line !== '') {
        lines.push(line);
        line = '';
        continue;
      }
      lines.push(rest.slice(0, width)); // a word longer than the line: cut it
      rest = rest.slice(width);
      if (rest === '') break;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}

/** The rows as three columns, each cell wrapped to its column: 2 + 24 + 2 + 35 + 2 + 35 = 100. */
function table(rows: Row[]): string[] {
  const widths = [24, 35, 35];
  const out: string[] = [];
  for (const row of [['', 'the naive code', 'with unwedge'] as Row, ...rows]) {
    const cells = row.map((cell, i) => wrap(cell, widths[i]!));
    const height = Math.max(...cells.map((c) => c.length));
    for (let l = 0; l < height; l++) {
      const parts = cells.map((c, i) => (c[l] ?? '').padEnd(widths[i]!));
      out.push(`  ${parts.join('  ')}`.trimEnd());
    }
  }
  return out;
}

function print(lines: string[]): void {
  for (const line of lines) console.log(line);
}

/** "5 of 5 answered, 503 in 301-304 ms": the answers the clients got, by status. */
function answers(replies: Array<{ status: number | undefined; ms: number }>, limitMs: number): string {
  const answered = replies.filter((r) => r.status !== undefined);
  const head = `${answered.length} of ${replies.length} answered`;
  if (answered.length === 0) return `${head}; each client gave up after ${limitMs / 1000} s`;
  const byStatus = new Map<number, number[]>();
  for (const r of answered) byStatus.set(r.status!, [...(byStatus.get(r.status!) ?? []), r.ms]);
  const parts = [...byStatus].map(([status, ms]) => {
    const [lo, hi] = [Math.min(...ms), Math.max(...ms)];
    return `${status} in ${lo === hi ? lo : `${lo}-${hi}`} ms`;
  });
  return `${head}, ${parts.join(', ')}`;
}

/** A count that steps up at each of `times` (ms), from 0 until `end`. */
function cumulative(times: number[], end: number): Series {
  const sorted = [...times].sort((a, b) => a - b);
  return [
    [0, 0],
    ...sorted.map((t, i): [number, number] => [t, i + 1]),
    [Math.max(end, ...sorted), sorted.length],
  ];
}

function ms(value: number): string {
  return value >= 1_000 ? `${(value / 1_000).toFixed(1)} s` : `${value} ms`;
}

const stories: Story[] = [
  {
    title: 'A pool whose shutdown waits on hung work',
    seed: 'seed 000',
    hazard:
      'When a client hangs up, a streaming route waits for its pool to drain, but its tasks hang on ' +
      'an upstream that never answers: they never give their slots back, and /health, which needs ' +
      'a slot, stops answering.',
    code: ['on hang-up: await pool.idle()', "on hang-up: abort its tasks' signal"],
    run: async () => {
      const r = await streamRouteStory();
      const slowest = (max: number) => (max >= 1_000 ? 'none within 1 s: the probe gave up' : `${max} ms`);
      const left = (v: typeof r.naive) => `${v.tasksLeft} running, ${v.tasksQueued} waiting for a slot`;
      return {
        rows: [
          ['streams opened, hung up', `${r.naive.streams}`, `${r.unwedge.streams}`],
          ['/health, slowest answer', slowest(r.naive.health.max), slowest(r.unwedge.health.max)],
          ['their tasks still in the pool at the end', left(r.naive), left(r.unwedge)],
        ],
        cured: r.cured,
        panel: {
          quantity: 'tasks of the streams in the pool (running or waiting for a slot)',
          steps: true,
          naive: r.naive.inPool,
          unwedge: r.unwedge.inPool,
          naiveNote: `hung tasks never leave: ${r.naive.tasksLeft + r.naive.tasksQueued} at the end`,
          unwedgeNote: `a hang-up aborts its tasks: ${r.unwedge.tasksLeft + r.unwedge.tasksQueued} at the end`,
        },
      };
    },
  },
  {
    title: 'A put that waits forever on a queue whose consumer died',
    seed: 'seed 001',
    hazard:
      "A queue's consumer dies on a bad job and the queue fills up; the next request's put() has no " +
      'timeout, so it waits for room that never comes.',
    code: ['queue.put(job)', 'queue.put(job, { timeout: 300 })'],
    run: async () => {
      const r = await stuckQueueStory();
      const answeredAt = (v: typeof r.naive) =>
        v.afterCrash.filter((a) => a.status !== undefined).map((a) => a.sent + a.ms);
      const end = (v: typeof r.naive) => Math.max(...v.afterCrash.map((a) => a.sent + a.ms));
      const sent = r.naive.afterCrash.length;
      const { error } = JSON.parse(r.timeout.stuck.body || '{}') as { error?: string };
      return {
        rows: [
          [
            `${sent} requests after the crash`,
            answers(r.naive.afterCrash, 1_500),
            answers(r.timeout.afterCrash, 0),
          ],
          [
            '/healthz meanwhile, slowest',
            `${r.naive.healthz.max} ms: looks healthy`,
            `${r.timeout.healthz.max} ms`,
          ],
          [
            'the consumer',
            r.naive.consumerAlive ? 'alive' : 'dead: its loop threw, nobody restarted it',
            `with consume(): ${r.supervised.consumerAlive ? 'alive' : 'dead'}, ${r.supervised.reported} failure ` +
              `reported; ${answers(r.supervised.afterCrash, 0)}`,
          ],
        ],
        notes: error === undefined ? [] : wrap(`The 503 says: ${error}`, COLUMNS - 2).map((l) => `  ${l}`),
        cured: r.cured,
        panel: {
          quantity: `requests answered, of ${sent} sent after the consumer died`,
          steps: true,
          naive: cumulative(answeredAt(r.naive), end(r.naive)),
          unwedge: cumulative(answeredAt(r.timeout), end(r.timeout)),
          naiveNote: `${answeredAt(r.naive).length} answered; each client gave up after 1.5 s`,
          unwedgeNote: `503 after ${r.timeout.stuck.ms} ms, naming the full queue`,
        },
      };
    },
  },
  {
    title: 'A request that waits forever on a database connect',
    seed: 'seed 003',
    hazard:
      'A handler awaits a database connect with no timeout; the database accepts the connection and ' +
      'never answers, so the request hangs and nothing is logged.',
    code: ['connectDb()', 'withTimeout(connectDb, 300)'],
    run: async () => {
      const r = await connectTimeoutStory();
      const waiting = (replies: typeof r.naive.replies): Series => {
        const answered = replies.filter((a) => a.status !== undefined).sort((a, b) => a.ms - b.ms);
        const series: Series = [[0, replies.length]];
        for (const [i, a] of answered.entries()) series.push([a.ms, replies.length - i - 1]);
        const end = Math.max(...replies.map((a) => a.ms));
        if (series.at(-1)![0] < end) series.push([end, series.at(-1)![1]]);
        return series;
      };
      return {
        rows: [
          [
            `${r.naive.replies.length} requests at once`,
            answers(r.naive.replies, 1_500),
            answers(r.unwedge.replies, 0),
          ],
          [
            'db connections left open',
            `${r.naive.openConnections}`,
            `${r.unwedge.openConnections} (the timeout aborted them)`,
          ],
        ],
        cured: r.cured,
        panel: {
          quantity: `requests waiting for an answer, of ${r.naive.replies.length} sent at once`,
          steps: true,
          naive: waiting(r.naive.replies),
          unwedge: waiting(r.unwedge.replies),
          naiveNote: `no answer; the client gave up after ${ms(r.naive.ms)}`,
          unwedgeNote: `504 after ${r.unwedge.ms} ms; the connects were aborted`,
        },
      };
    },
  },
  {
    title: 'Background tasks started and forgotten',
    seed: 'seeds 002, 003',
    hazard:
      'Two background updaters start as bare promises with .catch(() => {}): one dies on a malformed ' +
      'message and nobody is told, the other hangs in a database connect that shutdown cannot stop.',
    code: ['void updater().catch(() => {})', 'registry.spawn(name, updater); withTimeout on the connect'],
    run: async () => {
      const r = await appLifespanStory();
      const u = r.unwedge;
      return {
        rows: [
          [
            'failures',
            `${r.naive.failuresHappened} (an updater died), ${r.naive.failuresLogged} reported`,
            `${u.failuresLogged} reported, each with its task's name and stack; the updaters restarted`,
          ],
          [
            'messages handled',
            `${r.naive.airlockMessagesHandled} of ${MESSAGES}`,
            `${u.airlockMessagesHandled} of ${MESSAGES} (the rest malformed)`,
          ],
          [
            'at shutdown',
            r.naive.dbConnectStillOpenAfterShutdown
              ? 'the db connect still hangs: nothing knows of it'
              : 'the db connect is closed',
            `done in ${u.shutdownMs} ms; ${u.dbConnectionsLeft} connects left; ` +
              `named as ignoring its abort: ${u.stragglers.join(', ') || 'none'}`,
          ],
        ],
        cured: r.cured,
        panel: {
          quantity: 'failures reported (×: a failure nobody was told about)',
          steps: true,
          naive: cumulative([], r.naive.shutdownAt),
          naiveMarks: { at: r.naive.failureTimes, label: 'a failure nobody was told about' },
          unwedge: cumulative(
            u.failures.map((f) => f.at),
            u.shutdownAt,
          ),
          naiveNote: `${r.naive.failuresHappened} failed, ${r.naive.failuresLogged} reported; the connect outlived shutdown`,
          unwedgeNote: `${u.failuresLogged} reported, by name; shutdown took ${u.shutdownMs} ms`,
        },
      };
    },
  },
  {
    title: 'A fan-out with no limit floods shared storage',
    seed: 'seed 004',
    hazard:
      'Each request downloads all its chunks at once with Promise.all, so requests that arrive ' +
      'together multiply: the shared storage server gets every chunk of every request at the same time.',
    code: ['Promise.all(chunks.map(download))', 'fanOut, window 8, behind one process-wide Semaphore(32)'],
    run: async () => {
      const r = await storageFanOutStory();
      return {
        rows: [
          [
            'downloads in flight at the storage server, peak',
            `${r.naive.peak}`,
            `${r.unwedge.peak} (limit ${r.limit})`,
          ],
          ['every request done in', `${r.naive.ms} ms`, `${r.unwedge.ms} ms`],
        ],
        cured: r.cured,
        panel: {
          quantity: 'downloads in flight at the storage server',
          steps: true,
          limit: { value: r.limit, label: `Semaphore(${r.limit})` },
          naive: r.naive.inFlight,
          unwedge: r.unwedge.inFlight,
          naiveNote: `peak ${r.naive.peak} at once`,
          unwedgeNote: `peak ${r.unwedge.peak}: never above the limit of ${r.limit}`,
        },
      };
    },
  },
  {
    title: 'A SIGTERM handler that waits for every connection',
    seed: 'seed 002',
    hazard:
      'On SIGTERM the app calls server.close(() => process.exit(0)), which waits for every connection ' +
      'to end: a client that keeps its connection alive and busy never lets it, so the pod sits in ' +
      "Terminating until the kubelet's SIGKILL, and nothing says what was still running.",
    code: ['server.close(() => process.exit(0))', `Lifecycle, a ${ms(BUDGET_MS)} budget: handleSignals()`],
    run: async () => {
      const r = await gracefulShutdownStory();
      const exit = (v: typeof r.naive) =>
        v.killed ? `none: SIGKILL after ${ms(KILL_AFTER_MS)}` : `code ${v.code} after ${v.exitMs} ms`;
      const refused = (v: typeof r.naive) =>
        v.refusedMs === undefined ? 'never' : `after ${v.refusedMs} ms`;
      const end = Math.max(r.naive.exitMs, r.unwedge.exitMs) + 250;
      const alive = (v: typeof r.naive): Series => [
        [0, 1],
        [v.exitMs, 0],
        [end, 0],
      ];
      const named = [...r.unwedge.stderr.matchAll(/\] "([^"]+)"/g)].map((m) => m[1]);
      return {
        rows: [
          ['exit after SIGTERM', exit(r.naive), exit(r.unwedge)],
          ['new connections refused', refused(r.naive), refused(r.unwedge)],
          [
            'the request in flight',
            r.naive.inFlightCompleted ? 'completed' : 'lost',
            r.unwedge.inFlightCompleted ? 'completed' : 'lost',
          ],
          [
            'the kept-alive client',
            `${r.naive.keptAliveAnswers} more answers: its connection holds the exit`,
            `closed once idle: ${r.unwedge.keptAliveAnswers} more answers`,
          ],
          [
            'what was left running',
            'nothing is said',
            named.length === 0 ? 'nothing' : `named on stderr: ${named.join(', ')}`,
          ],
        ],
        notes: [
          '  What the Lifecycle printed on stderr:',
          ...r.unwedge.stderr
            .trimEnd()
            .split('\n')
            .flatMap((l) => {
              const indent = ' '.repeat(4 + l.length - l.trimStart().length); // the report's own, kept
              return wrap(l.trimStart(), COLUMNS - indent.length).map((w) => `${indent}${w}`);
            }),
        ],
        cured: r.cured,
        panel: {
          quantity: 'the app still running after SIGTERM (1: yes, 0: exited)',
          steps: true,
          naive: alive(r.naive),
          unwedge: alive(r.unwedge),
          ...(r.naive.killed ? { naiveMarks: { at: [r.naive.exitMs], label: 'SIGKILL' } } : {}),
          naiveNote: r.naive.killed
            ? `no exit: SIGKILL after ${ms(r.naive.exitMs)}`
            : `exit after ${ms(r.naive.exitMs)}`,
          unwedgeNote: `exit ${r.unwedge.code} after ${ms(r.unwedge.exitMs)}, naming what ignored its abort`,
        },
      };
    },
  },
];

let out: string | undefined;
try {
  out = parseArgs({ options: { out: { type: 'string' } } }).values.out;
} catch (error) {
  console.error(`${(error as Error).message}\n${USAGE}`);
  process.exit(2);
}

print([
  ...wrap(
    'The hang lab: six hangs from real backends, each run on loopback HTTP servers, first with the ' +
      'naive code, then with unwedge. Every figure below is measured by this run. [seed 000] and the ' +
      "like name the incident report a story reproduces; the README's hazard pages cite them too.",
    COLUMNS,
  ),
  '',
]);

const started = performance.now();
const panels: Panel[] = [];
let cured = 0;
for (const [i, story] of stories.entries()) {
  const storyStarted = performance.now();
  print([
    `${i + 1}/${stories.length}  ${story.title}  [${story.seed}]`,
    ...wrap(story.hazard, COLUMNS - 2).map((l) => `  ${l}`),
    '',
  ]);
  const outcome = await story.run();
  const secs = ((performance.now() - storyStarted) / 1000).toFixed(1);
  if (outcome.cured) cured++;
  print([
    ...table([['the code', ...story.code], ...outcome.rows]),
    ...(outcome.notes ?? []),
    `  cured: ${outcome.cured ? 'yes' : 'NO'} (${secs} s)`,
    '',
  ]);
  panels.push({ title: story.title, seed: story.seed, ...outcome.panel });
}

// What the dashboards see: seed 004's service again, instrumented, its /metrics scraped over HTTP.
const scraped = await metricsStory();
const metricLines = chosenLines(scraped);
const count = (status: number) => scraped.statuses.filter((s) => s === status).length;
print([
  "What /metrics says: seed 004's service with unwedge/otel and the Prometheus exporter",
  ...wrap(
    `(examples/metrics.ts). ${BURST} requests at once while storage holds its answers: ` +
      `${count(200)} answered 200, ${count(503)} refused 503 by the pool's full line.`,
    COLUMNS - 2,
  ).map((l) => `  ${l}`),
  '  While storage holds every answer (otel_scope_* labels left out):',
  ...metricLines.during.flatMap((line) => breakLine(line, COLUMNS, 4)),
  '  Once every request is done:',
  ...metricLines.after.flatMap((line) => breakLine(line, COLUMNS, 4)),
  '',
]);

const folder = out === undefined ? mkdtempSync(join(tmpdir(), `unwedge-demo-${stamp()}-`)) : resolve(out);
mkdirSync(folder, { recursive: true });
const picture = join(folder, 'hang-lab.svg');
writeFileSync(
  picture,
  renderSvg(panels, [
    'Each panel plots what differs between the two runs;',
    'its figures are in the output of npm run demo,',
    `which drew this picture (Node ${process.versions.node}, ${new Date().toISOString().slice(0, 10)}).`,
  ]),
);
const total = ((performance.now() - started) / 1000).toFixed(1);
const shown = relative(process.cwd(), picture).startsWith('..') ? picture : relative(process.cwd(), picture);
print([
  `${cured} of ${stories.length} stories cured, in ${total} s. The picture of all ${panels.length}:`,
  ...wrap(shown, COLUMNS - 2).map((l) => `  ${l}`),
]);
process.exitCode = cured === stories.length ? 0 : 1;

/** 20261126-193102: the local time, for a folder name that sorts. */
function stamp(): string {
  const d = new Date();
  const two = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${two(d.getMonth() + 1)}${two(d.getDate())}-${two(d.getHours())}${two(d.getMinutes())}${two(d.getSeconds())}`;
}

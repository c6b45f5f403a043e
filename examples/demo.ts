// The hang lab: runs every seed story end to end on loopback, the naive code first and then the
// unwedge version, and prints one table. Exits non-zero if an unwedge version fails to cure its story.
//
//   npm run demo              (the table)
//   npm run demo -- --plot    (also writes docs/hang-lab.svg)
import { writeFileSync } from 'node:fs';
import { appLifespanStory } from './app-lifespan.js';
import { connectTimeoutStory } from './connect-timeout.js';
import { type Panel, renderSvg } from './lib/plot.js';
import { storageFanOutStory } from './storage-fan-out.js';
import { streamRouteStory } from './stream-route.js';
import { stuckQueueStory } from './stuck-queue-server.js';

interface Row {
  story: string;
  naive: string;
  unwedge: string;
  cured: boolean;
  /** The health route probed while the story ran, for the plot. */
  health?: Omit<Panel, 'title'>;
}

const stories: Array<{ id: string; run: () => Promise<Row> }> = [
  {
    id: 'seed 000: pool drain on client disconnect',
    run: async () => {
      const r = await streamRouteStory();
      return {
        story: 'seed 000: pool drain on client disconnect',
        naive: `/health max ${r.naive.health.max} ms; ${r.naive.tasksLeft} hung tasks hold slots, ${r.naive.tasksQueued} queued`,
        unwedge: `/health max ${r.unwedge.health.max} ms; ${r.unwedge.tasksLeft} tasks left after the clients left`,
        cured: r.cured,
        health: {
          naive: r.naive.health,
          unwedge: r.unwedge.health,
          naiveNote: `${r.naive.tasksLeft} hung tasks keep the pool full; /health waits for a slot`,
          unwedgeNote: `disconnect aborts the request's tasks: ${r.unwedge.tasksLeft} left`,
        },
      };
    },
  },
  {
    id: 'seed 001: put on a full queue whose consumer died',
    run: async () => {
      const r = await stuckQueueStory();
      return {
        story: 'seed 001: put with no timeout, dead consumer',
        naive: `request: no answer in ${r.naive.stuck.ms} ms; /healthz max ${r.naive.healthz.max} ms`,
        unwedge: `request: ${r.timeout.stuck.status} in ${r.timeout.stuck.ms} ms naming the full queue; with consume(): ${r.supervised.stuck.status}`,
        cured: r.cured,
        health: {
          naive: r.naive.healthz,
          unwedge: r.timeout.healthz,
          naiveNote: `the request hung (no answer in ${r.naive.stuck.ms} ms)`,
          unwedgeNote: `${r.timeout.stuck.status} in ${r.timeout.stuck.ms} ms`,
        },
      };
    },
  },
  {
    id: 'seed 003: connect with no timeout',
    run: async () => {
      const r = await connectTimeoutStory();
      return {
        story: 'seed 003: connect with no timeout',
        naive: `request: no answer in ${r.naive.ms} ms; ${r.naive.openConnections} db connects left hanging`,
        unwedge: `request: 504 in ${r.unwedge.ms} ms; ${r.unwedge.openConnections} left; /health p99 ${r.unwedge.health.p99} ms`,
        cured: r.cured,
        health: {
          naive: r.naive.health,
          unwedge: r.unwedge.health,
          naiveNote: `the request hung (no answer in ${r.naive.ms} ms)`,
          unwedgeNote: `504 in ${r.unwedge.ms} ms`,
        },
      };
    },
  },
  {
    id: 'seeds 002/003: fire-and-forget background tasks',
    run: async () => {
      const r = await appLifespanStory();
      return {
        story: 'seeds 002/003: fire-and-forget background tasks',
        naive: `${r.naive.failuresHappened} updater died, ${r.naive.failuresLogged} logged; db connect still open after shutdown`,
        unwedge: `${r.unwedge.failuresLogged} failures logged with names+stacks; shutdown ${r.unwedge.shutdownMs} ms, straggler ${r.unwedge.stragglers.join(', ')}`,
        cured: r.cured,
      };
    },
  },
  {
    id: 'seed 004: unbounded fan-out',
    run: async () => {
      const r = await storageFanOutStory();
      return {
        story: 'seed 004: unbounded fan-out',
        naive: `peak ${r.naive.peak} downloads in flight at storage`,
        unwedge: `peak ${r.unwedge.peak} (limit ${r.limit}) with fanOut window 8`,
        cured: r.cured,
      };
    },
  },
];

const rows: Row[] = [];
for (const story of stories) {
  const started = performance.now();
  process.stderr.write(`▶ ${story.id} …\n`);
  const row = await story.run();
  rows.push(row);
  const secs = ((performance.now() - started) / 1000).toFixed(1);
  process.stderr.write(`${row.cured ? '✔' : '✘'} ${story.id} (${secs} s)\n`);
}

const header: Row = { story: 'story', naive: 'with the naive code', unwedge: 'with unwedge', cured: true };
const widths = (['story', 'naive', 'unwedge'] as const).map((k) =>
  Math.max(...[header, ...rows].map((r) => r[k].length)),
);
const line = (r: Row, mark: string) =>
  `${r.story.padEnd(widths[0]!)} │ ${r.naive.padEnd(widths[1]!)} │ ${r.unwedge.padEnd(widths[2]!)} │ ${mark}`;
console.log(line(header, 'cured'));
console.log(widths.map((w) => '─'.repeat(w)).join('─┼─') + '─┼──────');
for (const row of rows) console.log(line(row, row.cured ? 'yes' : 'NO'));
if (process.argv.includes('--plot')) {
  const panels: Panel[] = rows.flatMap((r) => (r.health ? [{ title: r.story, ...r.health }] : []));
  writeFileSync(new URL('../docs/hang-lab.svg', import.meta.url), renderSvg(panels));
  console.log(`wrote docs/hang-lab.svg (${panels.length} stories)`);
}
process.exitCode = rows.every((r) => r.cured) ? 0 : 1;

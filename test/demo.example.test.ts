import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { collect } from './support/child.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const tracked = join(root, 'docs/hang-lab.svg');

/** Runs `npm run demo -- ...args` with `env` added; resolves when it exits. */
async function demo(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/demo.ts', ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = collect(child);
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, ...out };
}

/** The polylines' points of one panel, as [x, y] pairs per line (naive first). */
function lines(panel: string): Record<string, Array<[number, number]>> {
  const found: Record<string, Array<[number, number]>> = {};
  for (const [, name, points] of panel.matchAll(/<polyline class="(\w+)"[^>]* points="([^"]*)"/g)) {
    found[name!] = points!.split(' ').map((p) => p.split(',').map(Number) as [number, number]);
  }
  return found;
}

test('npm run demo cures all six stories in at most 100 columns and draws one panel per story into a fresh folder', async () => {
  const scratch = mkdtempSync(join(tmpdir(), 'unwedge-demo-test-'));
  const before = statSync(tracked).mtimeMs;
  try {
    const { code, stdout, stderr } = await demo([], { TMPDIR: scratch });
    expect(stderr).toBe('');
    expect(code, stdout).toBe(0);

    const output = stdout.split('\n');
    for (const line of output) expect([...line].length, line).toBeLessThanOrEqual(100);
    // One block per story, named by what it is with its seed in brackets, and cured.
    const titles = output.filter((line) => /^\d\/6 {2}/.test(line));
    expect(titles).toEqual([
      '1/6  A pool whose shutdown waits on hung work  [seed 000]',
      '2/6  A put that waits forever on a queue whose consumer died  [seed 001]',
      '3/6  A request that waits forever on a database connect  [seed 003]',
      '4/6  Background tasks started and forgotten  [seeds 002, 003]',
      '5/6  A fan-out with no limit floods shared storage  [seed 004]',
      '6/6  A SIGTERM handler that waits for every connection  [seed 002]',
    ]);
    expect(output.filter((line) => /^ {2}cured: yes \(\d+\.\d s\)$/.test(line))).toHaveLength(6);
    expect(stdout).toContain('none within 1 s: the probe gave up'); // not "max 1000 ms"
    expect(stdout).toContain('6 of 6 stories cured');
    // The shutdown story shows the report its Lifecycle wrote, naming the task that ignored its abort.
    expect(stdout).toMatch(/^ {4}still running in task registry "updaters": 1 task/m);
    expect(stdout).toMatch(/^ {6}\d+ ms {2}\[shutting-down\] "airlock-status-updater"/m);

    // After the stories, a few lines of the instrumented service's /metrics, as scraped.
    expect(stdout).toContain(
      "What /metrics says: seed 004's service with unwedge/otel and the Prometheus exporter",
    );
    expect(stdout).toMatch(/6 answered 200,\s+4\s+refused\s+503/);
    const sem = 'unwedge_kind="semaphore",unwedge_name="chunk-downloads"';
    expect(output).toContain(`    unwedge_semaphore_permits_used{${sem}} 8`);
    expect(output).toContain(`    unwedge_semaphore_permits_limit{${sem}} 8`);
    expect(output).toContain(
      '    unwedge_pool_tasks{unwedge_kind="pool",unwedge_name="merge-requests",unwedge_state="running"} 4',
    );
    expect(stdout).toMatch(
      /^ {4}unwedge_semaphore_wait_duration_count\{[^}]*\n {6}unwedge_outcome="granted"\} \d+$/m,
    );
    expect(stdout).toMatch(/^ {4}unwedge_rejections_total\{[^}]*\n {6}error_type="QueueFullError"\} 4$/m);

    // The picture: in a fresh folder under the temp directory, never the tracked copy.
    const path = /The picture of all 6:\n {2}(\S+hang-lab\.svg)$/m.exec(stdout)?.[1];
    expect(path, stdout).toMatch(new RegExp(`^${scratch}/unwedge-demo-\\d{8}-\\d{6}-\\w+/hang-lab\\.svg$`));
    expect(statSync(tracked).mtimeMs).toBe(before);
    const svg = readFileSync(path!, 'utf8');
    const panels = svg.split('<g class="panel"').slice(1);
    expect(panels.map((p) => /data-seed="([^"]+)"/.exec(p)?.[1])).toEqual([
      'seed 000',
      'seed 001',
      'seed 003',
      'seeds 002, 003',
      'seed 004',
      'seed 002',
    ]);
    // In every panel both runs are drawn, differently, and at least one of them moves.
    for (const panel of panels) {
      const { naive, unwedge } = lines(panel);
      expect(naive!.length).toBeGreaterThan(1);
      expect(unwedge!.length).toBeGreaterThan(1);
      expect(naive).not.toEqual(unwedge);
      const moves = (points: Array<[number, number]>) => new Set(points.map(([, y]) => y)).size > 1;
      expect(moves(naive!) || moves(unwedge!), panel).toBe(true);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}, 60_000);

test('the demo refuses an unknown option before running anything, and says how to call it', async () => {
  const { code, stdout, stderr } = await demo(['--plot']);
  expect(code).toBe(2);
  expect(stdout).toBe('');
  expect(stderr).toMatch(/Unknown option '--plot'[\s\S]*usage: npm run demo \[-- --out <folder>\]/);
});

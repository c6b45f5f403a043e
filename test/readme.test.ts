// Every TypeScript example in README.md, as a user gets it: each ```ts block becomes its own module
// in a fresh project (`"type": "module"`, the README's own tsconfig.json block, verbatim) whose
// node_modules/unwedge is this repository, so `unwedge` and its subpaths resolve through
// package.json `exports` to the built dist/ (npm test builds first). tsc type-checks them all and
// emits JavaScript; each block then runs in a child process on this Node line against real loopback
// servers (and a real redis-server), and must print what it should and exit by itself in time.
// A block that is deliberately a fragment says so in the README with `<!-- snippet: fragment: why -->`
// on the line before it; it is neither checked nor run, and the test names say how many and why.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import {
  Agent,
  createServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { type RedisServer, startRedis } from './redis/server.js';

const root = fileURLToPath(new URL('..', import.meta.url));

// --- the README's blocks -------------------------------------------------------------------------

interface Block {
  /** The `## ` heading the block is under. */
  heading: string;
  /** The file it becomes: `src/<id>.ts`, run as `dist/<id>.js`. */
  id: string;
  lang: string;
  code: string;
  /** README line of the block's first code line (1-based). */
  line: number;
  /** Why it is not checked, when it is marked as a fragment. */
  fragment: string | undefined;
}

function readBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  const perHeading = new Map<string, number>();
  let heading = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('## ')) heading = line.slice(3);
    const fence = /^```(\S*)\s*$/.exec(line);
    if (fence === null) continue;
    let end = i + 1;
    while (end < lines.length && lines[end] !== '```') end++;
    let before = i - 1;
    while (before >= 0 && lines[before]!.trim() === '') before--;
    const marker = /^<!-- snippet: fragment: (.+) -->$/.exec(lines[before] ?? '');
    const n = (perHeading.get(heading) ?? 0) + 1;
    perHeading.set(heading, n);
    const slug =
      heading
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/^-|-$/g, '') || 'top';
    blocks.push({
      heading,
      id: n === 1 ? slug : `${slug}-${n}`,
      lang: fence[1] ?? '',
      code: lines.slice(i + 1, end).join('\n'),
      line: i + 2,
      fragment: marker?.[1],
    });
    i = end;
  }
  return blocks;
}

const blocks = readBlocks(readFileSync(join(root, 'README.md'), 'utf8'));
const tsBlocks = blocks.filter((b) => b.lang === 'ts');
const fragments = tsBlocks.filter((b) => b.fragment !== undefined);
const checked = tsBlocks.filter((b) => b.fragment === undefined);
const tsconfigBlock = blocks.find((b) => b.heading === 'Install' && b.lang === 'json');

// --- the project a user would have ---------------------------------------------------------------

const dir = join(root, '.vitest-tmp', `readme-${process.pid}`);
let diagnostics: string[] = [];

function tsc(): Promise<string> {
  const bin = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [bin, '-p', '.', '--pretty', 'false'],
      { cwd: dir, timeout: 90_000 },
      (error, stdout) => {
        // Exit code 2: errors were found (and the JavaScript still emitted); anything else is a crash.
        if (error !== null && error.code !== 2) reject(error);
        else resolve(stdout);
      },
    );
  });
}

beforeAll(async () => {
  if (!existsSync(join(root, 'dist', 'index.js')))
    throw new Error('dist/ is missing: run `npm run build` first');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'src'), { recursive: true });
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(root, join(dir, 'node_modules', 'unwedge'), 'dir');
  // ioredis and @types/node resolve from the repository's node_modules, above this folder.
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  writeFileSync(join(dir, 'tsconfig.json'), tsconfigBlock?.code ?? '{}');
  for (const block of checked) writeFileSync(join(dir, 'src', `${block.id}.ts`), `${block.code}\n`);
  const output = await tsc();
  // `src/semaphore.ts(5,3): error TS2304: ...` → the README line it comes from.
  diagnostics = output
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const at = /^src\/([^.]+)\.ts\((\d+),(\d+)\): (.*)$/.exec(line);
      const block = checked.find((b) => b.id === at?.[1]);
      if (at === null || block === undefined) return line;
      return `README.md:${block.line + Number(at[2]) - 1}:${at[3]} (## ${block.heading}): ${at[4]}`;
    });
}, 120_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

test('the Install section gives the tsconfig.json the examples are checked with: strict, nodenext', () => {
  expect(tsconfigBlock).toBeDefined();
  const { compilerOptions } = JSON.parse(tsconfigBlock!.code) as { compilerOptions: Record<string, unknown> };
  expect(compilerOptions.strict).toBe(true);
  expect(String(compilerOptions.module).toLowerCase()).toBe('nodenext');
  expect(String(compilerOptions.moduleResolution).toLowerCase()).toBe('nodenext');
  // Node 20 and 22 do not parse `using`: the README's target must make tsc rewrite it.
  expect(['es2022', 'es2021', 'es2020']).toContain(String(compilerOptions.target).toLowerCase());
});

const skipped =
  fragments.length === 0
    ? 'no fragment skipped'
    : `${fragments.length} skipped as fragments: ${fragments.map((b) => `${b.heading} (${b.fragment})`).join('; ')}`;

test(`${checked.length} TypeScript blocks of README.md type-check as modules under that tsconfig (${skipped})`, () => {
  expect(checked.length).toBeGreaterThan(0);
  expect(diagnostics).toEqual([]);
});

// --- running them --------------------------------------------------------------------------------

/** A README block running as `node dist/<id>.js`, with its output collected as it comes. */
class Run {
  stdout = '';
  stderr = '';
  readonly child: ChildProcess;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;

  constructor(heading: string, env: Record<string, string>) {
    const block = checked.find((b) => b.heading === heading);
    if (block === undefined) throw new Error(`README.md has no checked ts block under "## ${heading}"`);
    // Only PATH and the block's own variables: nothing of vitest's environment (coverage, options).
    this.child = spawn(process.execPath, [join(dir, 'dist', `${block.id}.js`)], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.exit = new Promise((resolve) =>
      this.child.once('close', (code, signal) => resolve({ code, signal, at: Date.now() })),
    );
    running.add(this);
  }

  /** Resolves once stdout contains `text`; fails after `ms` or if the process exits first. */
  async printed(text: string, ms = 5_000): Promise<void> {
    const exited = () => this.child.exitCode !== null || this.child.signalCode !== null;
    await until(() => this.stdout.includes(text) || exited(), `printing ${JSON.stringify(text)}`, ms);
    if (!this.stdout.includes(text)) {
      throw new Error(
        `exited without printing ${JSON.stringify(text)}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`,
      );
    }
  }

  /** Resolves with how it exited, if it does within `ms` by itself; otherwise kills it and fails. */
  async exitsWithin(ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(resolve, ms, 'late');
    });
    const outcome = await Promise.race([this.exit, late]);
    clearTimeout(timer);
    if (outcome === 'late') {
      this.child.kill('SIGKILL');
      await this.exit;
      throw new Error(`still running ${ms} ms later\nstdout: ${this.stdout}\nstderr: ${this.stderr}`);
    }
    return outcome;
  }
}

const running = new Set<Run>();
afterEach(async () => {
  for (const run of running) {
    if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
    await run.exit;
  }
  running.clear();
  for (const close of cleanups.splice(0).reverse()) await close();
});
const cleanups: Array<() => Promise<void> | void> = [];

/** A loopback HTTP server for a block to call; closed (with every connection) after the test. */
async function upstream(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** Requests in flight at an upstream, and the most seen at once, per path prefix (`/chunks/log-3` → `log`). */
function inFlight() {
  const now = new Map<string, number>();
  const max = new Map<string, number>();
  return {
    max,
    enter(key: string) {
      const n = (now.get(key) ?? 0) + 1;
      now.set(key, n);
      max.set(key, Math.max(max.get(key) ?? 0, n));
    },
    leave(key: string) {
      now.set(key, now.get(key)! - 1);
    },
    now: (key: string) => now.get(key) ?? 0,
  };
}

/** A port free on loopback now, for a block that listens on `PORT`. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Waits until `condition()` holds, checking every 10 ms; fails after `ms` with `what`. */
async function until(condition: () => boolean, what: string, ms = 3_000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** GET `path` on the block's server; resolves with status and body once the response ends. */
function get(port: number, path: string, agent?: Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: agent ?? false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => {
        body += chunk;
      });
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.once('error', reject);
    });
    req.once('error', reject);
    req.end();
  });
}

/** Delays the answer to each `/chunks/<prefix>-<n>` by `ms`, counting those in flight. */
async function storage(ms: number) {
  const flight = inFlight();
  const { url } = await upstream((req, res) => {
    const id = (req.url ?? '').replace('/chunks/', '');
    const key = id.split('-')[0]!;
    flight.enter(key);
    setTimeout(() => {
      flight.leave(key);
      res.end(`chunk ${id}`);
    }, ms);
  });
  return { url, flight };
}

// One scenario per README section with a runnable block: what it is given, what it must print, and
// that it ends by itself. A checked block without a scenario fails the last test below.
const scenarios = new Map<string, () => Promise<void>>();

scenarios.set('Semaphore', async () => {
  const { url } = await storage(20);
  const run = new Run('Semaphore', { STORAGE_URL: url });
  const { code } = await run.exitsWithin(5_000);
  expect(run.stderr).toBe('');
  expect(code).toBe(0);
  expect(run.stdout).toBe("[ 'chunk a', 'chunk b', 'chunk c' ]\n4 chunk big\n");
});

scenarios.set('WorkerPool', async () => {
  let hung = 0;
  let hungClosed = 0;
  const { url } = await upstream((req, res) => {
    if (req.url === '/a') return void res.end('A');
    hung++; // /b never answers
    req.socket.once('close', () => hungClosed++);
  });
  const port = await freePort();
  const run = new Run('WorkerPool', { PORT: String(port), FEEDS: `${url}/a,${url}/b` });
  await run.printed(`listening on ${port}`);

  // A client that leaves: its /b fetch is aborted, so the upstream sees its connection close.
  await new Promise<void>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      res.setEncoding('utf8').on('data', (chunk: string) => {
        if (chunk.includes(`${url}/a: A`)) req.destroy();
      });
      res.once('close', resolve);
    });
    req.once('error', (error) =>
      (error as NodeJS.ErrnoException).code === 'ECONNRESET' ? null : reject(error),
    );
    req.end();
  });
  await until(() => hung === 1 && hungClosed === 1, 'the /b fetch of a client that left was aborted');

  // A client that stays, on a keep-alive connection as browsers and fetch() use, when SIGTERM comes.
  const agent = new Agent({ keepAlive: true });
  cleanups.push(() => agent.destroy());
  const answer = get(port, '/', agent);
  await until(() => hung === 2, 'the second /b fetch started');
  run.child.kill('SIGTERM');
  const { status, body } = await answer;
  expect(status).toBe(200);
  expect(body).toBe(`${url}/a: A\n${url}/b: skipped (pool "feeds" was shut down while the task ran)\n`);
  const { code, signal } = await run.exitsWithin(3_000);
  expect(run.stderr).toBe('');
  expect({ code, signal }).toEqual({ code: 0, signal: null });
  expect(run.stdout).toContain('{ cancelled: 0, aborted: 1, stillRunning: 0 }');
  expect(hungClosed).toBe(2);
});

scenarios.set('BoundedQueue', async () => {
  let open = 0;
  const { url } = await upstream((req) => {
    open++; // the transcriber hangs on every job
    req.socket.once('close', () => open--);
  });
  const port = await freePort();
  const run = new Run('BoundedQueue', { PORT: String(port), TRANSCRIBER_URL: url });
  await run.printed(`listening on ${port}`);
  for (let i = 0; i < 104; i++)
    expect(await get(port, `/job-${i}`)).toEqual({ status: 202, body: 'queued\n' });
  await until(() => open === 4, 'four handlers running (concurrency 4)');
  const full = await get(port, '/job-104');
  expect(full.status).toBe(503);
  expect(full.body).toMatch(
    /^QueueFullError: queue "transcribe-jobs" stayed full for 500 ms; the item was not added \(capacity 100, last get \d+ ms ago\)\n$/,
  );
  run.child.kill('SIGTERM');
  // The transcriber hangs, so nothing queued gets handled within the 2 s budget: exit 1, naming it.
  const { code, signal } = await run.exitsWithin(3_500);
  expect({ code, signal }).toEqual({ code: 1, signal: null });
  expect(run.stderr).toMatch(/^unwedge: lifecycle "transcriber" shut down in \d+ ms \(budget 2000 ms\)/);
  expect(run.stderr).toContain(
    'still running in consumer of queue "transcribe-jobs": 100 items left in the queue, never handled\n',
  );
  await until(() => open === 0, 'the hung handlers’ requests were aborted');
});

scenarios.set('fanOut', async () => {
  const { url, flight } = await storage(50);
  const run = new Run('fanOut', { STORAGE_URL: url });
  const { code } = await run.exitsWithin(8_000);
  expect(run.stderr).toBe('');
  expect(code).toBe(0);
  let bytes = 0;
  for (let i = 0; i < 100; i++) bytes += `chunk log-${i}`.length;
  expect(run.stdout).toBe(`40 chunks\n${bytes} bytes\n`);
  // Each window bounds the calls in flight, and fills.
  expect(flight.max.get('report')).toBeLessThanOrEqual(8);
  expect(flight.max.get('report')).toBeGreaterThan(4);
  expect(flight.max.get('log')).toBeLessThanOrEqual(16);
  expect(flight.max.get('log')).toBeGreaterThan(8);
});

scenarios.set('TaskRegistry', async () => {
  let polls = 0;
  const { url } = await upstream((_req, res) => {
    polls++;
    res.end('green');
  });
  const run = new Run('TaskRegistry', { STATUS_URL: url });
  await run.printed('deployments: green');
  run.child.kill('SIGTERM');
  const { code, signal } = await run.exitsWithin(3_000);
  expect(run.stderr).toBe(''); // the task's abort is no failure: nothing reported
  expect({ code, signal }).toEqual({ code: 0, signal: null });
  expect(run.stdout).toMatch(/^(deployments: green\n)+$/);
  expect(polls).toBeGreaterThan(0);
});

scenarios.set('Lifecycle', async () => {
  const port = await freePort();
  const run = new Run('Lifecycle', { PORT: String(port) });
  await run.printed(`listening on ${port}`);
  expect(await get(port, '/ready')).toEqual({ status: 200, body: '' });
  expect(await get(port, '/')).toEqual({ status: 200, body: 'hello\n' });
  run.child.kill('SIGTERM');
  const { code, signal } = await run.exitsWithin(3_000);
  expect(run.stderr).toBe(''); // a clean shutdown prints no report
  expect({ code, signal }).toEqual({ code: 0, signal: null });
  expect(run.stdout).toBe(`listening on ${port}\nmetrics flushed\n`);
});

scenarios.set('withTimeout', async () => {
  // An answer in time: printed, and the 2 s timer does not keep the process alive after it.
  const answered = await upstream((_req, res) => res.end('stock 42'));
  const quick = new Run('withTimeout', { INVENTORY_URL: answered.url });
  await quick.printed('stock 42');
  const printedAt = Date.now();
  const { code, at } = await quick.exitsWithin(3_000);
  expect(quick.stderr).toBe('');
  expect(code).toBe(0);
  expect(at - printedAt).toBeLessThan(1_000);

  // No answer: the request is aborted at 2 s (the upstream sees it close) and the await rejects.
  let closed = false;
  const silent = await upstream((req) => {
    req.socket.once('close', () => {
      closed = true;
    });
  });
  const started = Date.now();
  const slow = new Run('withTimeout', { INVENTORY_URL: silent.url });
  const exit = await slow.exitsWithin(5_000);
  expect(exit.code).toBe(1);
  expect(exit.at - started).toBeGreaterThanOrEqual(2_000);
  expect(slow.stderr).toContain('TimeoutError: "inventory" timed out after 2000 ms');
  await until(() => closed, 'the upstream saw the request end');
});

let redis: RedisServer | undefined;
afterAll(async () => {
  await redis?.destroy();
});

scenarios.set('RedisSemaphore (`unwedge/redis`)', async () => {
  redis ??= await startRedis();
  const { url } = await storage(10);
  const run = new Run('RedisSemaphore (`unwedge/redis`)', {
    STORAGE_URL: url,
    REDIS_URL: `redis://127.0.0.1:${redis.port}`,
  });
  const { code } = await run.exitsWithin(5_000);
  expect(run.stderr).toBe('');
  expect(code).toBe(0);
  expect(run.stdout).toBe('chunk a\n');
});

scenarios.set('Where is it stuck? (`unwedge/inspect`)', async () => {
  // "Nothing here keeps the process alive": the watchers, the signal listener and the handler.
  const run = new Run('Where is it stuck? (`unwedge/inspect`)', {});
  const { code } = await run.exitsWithin(3_000);
  expect(run.stderr).toBe('');
  expect(code).toBe(0);
});

scenarios.set('Observability (`unwedge/otel`)', async () => {
  // It scrapes its own /metrics over HTTP from the real Prometheus exporter, then stops and exits.
  const port = await freePort();
  const run = new Run('Observability (`unwedge/otel`)', { METRICS_PORT: String(port) });
  const { code } = await run.exitsWithin(5_000);
  expect(run.stderr).toBe('');
  expect(code).toBe(0);
  // 4 runs on 2 permits: the 2 that parked are the histogram's count; the 2 granted at once are not.
  expect(run.stdout).toMatch(
    /^unwedge_semaphore_wait_duration_count\{unwedge_kind="semaphore",unwedge_name="uploads",unwedge_outcome="granted",otel_scope_name="unwedge",otel_scope_version="\d+\.\d+\.\d+"\} 2\n$/,
  );
});

scenarios.set('Errors', async () => {
  const run = new Run('Errors', {});
  const { code } = await run.exitsWithin(3_000);
  expect(run.stderr).toBe('');
  expect(code).toBe(0);
  expect(run.stdout).toBe('[ 200, 200, 503 ]\n');
});

for (const [heading, scenario] of scenarios) {
  test(`README.md ## ${heading}: the example runs on loopback servers and ends by itself`, async () => {
    expect(diagnostics).toEqual([]); // running what does not type-check would say nothing new
    await scenario();
  });
}

test('every checked block of README.md has a scenario that runs it, and every scenario a block', () => {
  expect(checked.map((b) => b.heading).sort()).toEqual([...scenarios.keys()].sort());
});

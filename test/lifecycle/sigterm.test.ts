// A whole service on SIGTERM, in a child process (test/fixtures/lifecycle-app.fixture.ts): a real
// node:http server with a keep-alive client and a request in flight, a pool, and a registry task
// that ignores its signal. After SIGTERM new connections are refused within 200 ms, the request in
// flight completes, the idle keep-alive connection is closed at once (it does not hold the exit),
// and the process exits within the budget + 1 s with code 1, naming the straggler on stderr. A
// second SIGTERM exits at once with 143.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { Agent, get, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, test } from 'vitest';
import { collect, waitFor } from '../support/child.js';

const BUDGET_MS = 1_000;
const script = fileURLToPath(new URL('../fixtures/lifecycle-app.fixture.ts', import.meta.url));
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  }
});

async function start() {
  const child = spawn(process.execPath, ['--import', 'tsx', script, String(BUDGET_MS)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const out = collect(child);
  const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
    child.once('exit', (code) => resolve({ code, at: performance.now() })),
  );
  const port = Number((await waitFor(child, () => out.stdout, /listening (\d+)/, 15_000))[1]);
  return { child, out, exited, port };
}

function request(port: number, path: string, agent: Agent | false) {
  return new Promise<{ status?: number; body: string; socket?: Socket }>((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, agent }, (res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode, body, socket: req.socket as Socket }));
    });
    req.on('error', reject);
  });
}

/** Connects until a connection is refused; resolves with the ms that took. */
async function refusedAfter(port: number, since: number): Promise<number> {
  for (;;) {
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
    });
    if (refused) return performance.now() - since;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

test('SIGTERM: new connections refused within 200 ms, the request in flight completes, the idle keep-alive connection is closed, exit 1 within the budget + 1 s naming the straggler', async () => {
  const { child, out, exited, port } = await start();
  const agent = new Agent({ keepAlive: true });
  try {
    const first = await request(port, '/ready', agent);
    expect(first.body).toBe('running');
    const idle = first.socket!; // kept alive by the agent, idle from now on
    const idleClosed = new Promise<number>((resolve) => idle.once('close', () => resolve(performance.now())));
    const slow = request(port, '/slow', false);
    await waitFor(child, () => out.stdout, /slow started/, 5_000);

    const signalled = performance.now();
    child.kill('SIGTERM');
    expect(await refusedAfter(port, signalled)).toBeLessThan(200);
    expect((await idleClosed) - signalled).toBeLessThan(200);
    expect(await slow).toMatchObject({ status: 200, body: 'slow done' });

    const { code, at } = await exited;
    expect(code).toBe(1);
    expect(at - signalled).toBeGreaterThanOrEqual(BUDGET_MS - 50); // the straggler held it to the deadline
    expect(at - signalled).toBeLessThan(BUDGET_MS + 1_000);
    expect(out.stderr).toMatch(
      /^unwedge: lifecycle "app" shut down in \d+ ms \(budget 1000 ms\): 1 resource left running, 0 failures\n/,
    );
    expect(out.stderr).toMatch(/ {2}server 127\.0\.0\.1:\d+ +stopped +\d+ ms of \d+ ms\n/);
    expect(out.stderr).toMatch(
      /still running in task registry "bg": 1 task \(1 shutting-down\), closed\n +\d+ ms {2}\[shutting-down\] "ignores-abort" \(no timeout\)/,
    );
    expect(out.stderr).not.toContain('"stops"'); // it stopped when aborted
  } finally {
    agent.destroy();
  }
});

test('a second SIGTERM during the shutdown exits at once with 143', async () => {
  const { child, exited } = await start();
  child.kill('SIGTERM');
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(child.exitCode).toBe(null); // still within its budget, waiting for the straggler
  const second = performance.now();
  child.kill('SIGTERM');
  const { code, at } = await exited;
  expect(code).toBe(143);
  expect(at - second).toBeLessThan(200);
});

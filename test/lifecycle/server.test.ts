// Stopping a real node:http server on loopback: new connections refused at once, idle keep-alive
// connections closed at once, requests in flight finished, and at the deadline the ones left cut
// off and named. Real timers: sockets and their events are the subject here.
import { once } from 'node:events';
import { Agent, createServer, get, type IncomingMessage, type Server } from 'node:http';
import { connect, createServer as createTcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { Lifecycle } from '../../src/lifecycle/lifecycle.js';
import { FORCE_GRACE_MS } from '../../src/lifecycle/run.js';
import { deferred } from '../support/promises.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** An HTTP server with `/` (at once), `/slow` (when `release` is called), `/hang` (never), `/stream`. */
async function app(life: Lifecycle) {
  const release = deferred();
  const started = new Set<string>();
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    started.add(path);
    if (path === '/slow') void release.promise.then(() => res.end('slow done'));
    else if (path === '/hang') return;
    else if (path === '/stream') {
      res.writeHead(200);
      res.write('first;');
      void release.promise.then(() => res.end('last'));
    } else res.end('ok');
  });
  life.use(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });
  const { port } = server.address() as { port: number };
  const agent = new Agent({ keepAlive: true });
  cleanups.push(() => agent.destroy());
  return { server, port, agent, release, started };
}

interface Reply {
  status?: number;
  connection?: string;
  body: string;
  error?: string;
}

function request(port: number, path: string, agent: Agent | false = false): Promise<Reply> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path, agent }, (res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode, connection: res.headers.connection, body }));
      res.on('error', (error) => resolve({ body, error: (error as NodeJS.ErrnoException).code }));
    });
    req.on('error', (error) =>
      resolve({ body: '', error: (error as NodeJS.ErrnoException).code ?? error.message }),
    );
  });
}

/** Resolves when `path` has reached the handler. */
async function reached(started: Set<string>, path: string): Promise<void> {
  while (!started.has(path)) await new Promise((resolve) => setImmediate(resolve));
}

function connections(server: Server): Promise<number> {
  return new Promise((resolve, reject) =>
    server.getConnections((error, n) => (error ? reject(error) : resolve(n))),
  );
}

test('on shutdown new connections are refused at once, the idle keep-alive connection is closed, and the request in flight completes', async () => {
  const life = new Lifecycle({ name: 'web', timeout: 5_000 });
  const { server, port, agent, release, started } = await app(life);
  expect(await request(port, '/', agent)).toMatchObject({ status: 200, connection: 'keep-alive' });
  const slow = request(port, '/slow', agent); // reuses that kept-alive connection
  await reached(started, '/slow');
  expect((await request(port, '/', agent)).status).toBe(200); // on a second one, kept alive and now idle
  expect(await connections(server)).toBe(2); // one serving /slow, one idle

  const stopping = life.shutdown();
  const t0 = performance.now();
  const refused = await request(port, '/', false);
  expect(refused.error).toBe('ECONNREFUSED');
  expect(performance.now() - t0).toBeLessThan(200);
  expect(await connections(server)).toBe(1); // the idle one was closed at once: only /slow's is left
  expect(life.state).toBe('stopping');

  release.resolve();
  expect(await slow).toMatchObject({ status: 200, body: 'slow done', connection: 'close' });
  const report = await stopping;
  expect(report.clean).toBe(true);
  expect(report.steps).toEqual([
    {
      name: `server 127.0.0.1:${port}`,
      budget: expect.any(Number),
      elapsed: expect.any(Number),
      outcome: 'stopped',
    },
  ]);
  expect(report.steps[0]!.budget).toBeGreaterThan(4_990); // all of it, less the time to get there
  expect(report.elapsed).toBeLessThan(1_000);
  expect(server.listening).toBe(false);
});

test('a keep-alive connection whose response was already under way is closed as soon as that response ends', async () => {
  const life = new Lifecycle({ timeout: 5_000 });
  const { port, agent, release, started } = await app(life);
  const stream = request(port, '/stream', agent); // headers sent: too late to say Connection: close
  await reached(started, '/stream');
  const stopping = life.shutdown();
  setTimeout(() => release.resolve(), 50);
  expect(await stream).toMatchObject({ status: 200, body: 'first;last', connection: 'keep-alive' });
  const report = await stopping;
  expect(report.clean).toBe(true);
  // Node's close() would have left this kept-alive connection open for its 5 s keepAliveTimeout.
  expect(report.elapsed).toBeLessThan(1_000);
});

test('at the deadline the requests still in flight are cut off and named, the path without its query', async () => {
  const life = new Lifecycle({ name: 'web', timeout: 300 });
  const { port, started } = await app(life);
  const hung = request(port, '/hang?token=secret');
  await reached(started, '/hang');
  const t0 = performance.now();
  const report = await life.shutdown();
  const ms = performance.now() - t0;
  expect(ms).toBeGreaterThanOrEqual(299);
  expect(ms).toBeLessThan(300 + FORCE_GRACE_MS + 200);
  expect((await hung).error).toBe('ECONNRESET'); // the client sees the connection go, not a hang
  expect(report.clean).toBe(false);
  expect(report.steps[0]!.outcome).toBe('left-running');
  expect(report.stragglers).toEqual([
    {
      name: `server 127.0.0.1:${port}`,
      summary: '1 request cut off at the deadline',
      running: [expect.objectContaining({ what: 'GET /hang', state: 'cut off' })],
    },
  ]);
  expect(report.stragglers[0]!.running[0]!.age).toBeGreaterThanOrEqual(290);
  expect(JSON.stringify(report)).not.toContain('secret');
});

test('a plain net.Server: it stops accepting, its open sockets are left until the deadline, then destroyed and named by their peer', async () => {
  const life = new Lifecycle({ timeout: 200 });
  const sockets: Socket[] = [];
  const server = life.use(
    createTcpServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => {});
    }),
    { name: 'tcp' },
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const client = connect(port, '127.0.0.1');
  client.on('error', () => {});
  await once(server, 'connection');
  const peer = `127.0.0.1:${sockets[0]!.remotePort}`;
  const closed = once(client, 'close');
  const report = await life.shutdown();
  await closed;
  expect(sockets[0]!.destroyed).toBe(true);
  // Cut off by the deadline: a forced shutdown is not a clean one, and says whom it cut off.
  expect(report.clean).toBe(false);
  expect(report.stragglers).toEqual([
    {
      name: 'tcp',
      summary: '1 connection cut off at the deadline',
      running: [expect.objectContaining({ what: `connection from ${peer}`, state: 'cut off' })],
    },
  ]);
  expect(report.steps[0]!.elapsed).toBeGreaterThanOrEqual(199);
});

test('a server that never listened, or was closed already, stops at once and is no failure', async () => {
  const life = new Lifecycle({ timeout: 1_000 });
  life.use(createServer());
  const closedAlready = createServer();
  closedAlready.listen(0, '127.0.0.1');
  await once(closedAlready, 'listening');
  life.use(closedAlready);
  await new Promise((resolve) => closedAlready.close(resolve));
  const report = await life.shutdown();
  expect(report.clean).toBe(true);
  expect(report.steps.map((s) => [s.name, s.outcome])).toEqual([
    ['server', 'stopped'],
    ['server', 'stopped'],
  ]);
});

test('a server reached after the budget was spent cuts off at once every request in flight, oldest first', async () => {
  const life = new Lifecycle({ timeout: 50 });
  const { port, started } = await app(life);
  life.defer(() => new Promise(() => {}), { name: 'hangs' }); // stopped first: holds the whole budget
  const first = request(port, '/hang');
  await reached(started, '/hang');
  await new Promise((resolve) => setTimeout(resolve, 20));
  const second = request(port, '/hang?again');
  await new Promise((resolve) => setTimeout(resolve, 20));
  const report = await life.shutdown();
  expect([(await first).error, (await second).error]).toEqual(['ECONNRESET', 'ECONNRESET']);
  const server = report.stragglers.find((s) => s.name.startsWith('server'))!;
  expect(server.summary).toBe('2 requests cut off at the deadline');
  expect(server.running.map((w) => w.what)).toEqual(['GET /hang', 'GET /hang']);
  expect(server.running[0]!.age).toBeGreaterThan(server.running[1]!.age);
  expect(report.steps.map((s) => [s.name.split(' ')[0], s.budget])).toEqual([
    ['hangs', 50],
    ['server', 0],
  ]);
});

test('a request that comes on a kept-alive connection while the server stops is served, then its connection closes', async () => {
  const life = new Lifecycle({ timeout: 5_000 });
  const { port, release, started } = await app(life);
  const socket = connect(port, '127.0.0.1');
  socket.setEncoding('utf8');
  let received = '';
  socket.on('data', (chunk: string) => {
    received += chunk;
  });
  await once(socket, 'connect');
  socket.write('GET /stream HTTP/1.1\r\nHost: x\r\n\r\n');
  await reached(started, '/stream');
  const stopping = life.shutdown();
  socket.write('GET /after HTTP/1.1\r\nHost: x\r\n\r\n'); // pipelined behind the stream, after the stop began
  await reached(started, '/after');
  release.resolve();
  await once(socket, 'close');
  expect(received.match(/HTTP\/1\.1 200 OK/g)).toHaveLength(2);
  expect(received).toMatch(/\r\n\r\nok$/); // the second answer, then the server closed the connection
  expect(received.split('HTTP/1.1 200 OK')[1]).toMatch(/\r\nConnection: keep-alive\r\n/); // begun before the stop
  expect(received.split('HTTP/1.1 200 OK')[2]).toMatch(/\r\nConnection: close\r\n/);
  expect((await stopping).clean).toBe(true);
});

test('a server is named by where it listened: IPv6, or a socket path', async () => {
  const life = new Lifecycle();
  const v6 = life.use(createServer());
  const onPath = life.use(createServer());
  const path = join(tmpdir(), `unwedge-lifecycle-${process.pid}.sock`);
  onPath.listen(path);
  await once(onPath, 'listening');
  // ::1 may be missing (a container without IPv6): then that server never listened, and is named so.
  const hasV6 = await new Promise<boolean>((resolve) => {
    v6.once('error', () => resolve(false));
    v6.listen(0, '::1', () => resolve(true));
  });
  const report = await life.shutdown();
  expect(report.steps.map((s) => s.name)).toEqual([
    `server ${path}`,
    hasV6 ? expect.stringMatching(/^server \[::1\]:\d+$/) : 'server',
  ]);
});

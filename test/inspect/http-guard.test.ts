// The inspect handler is safe to mount in a live service: its cost is bounded whatever the
// backlog, and it answers only GET/HEAD, only allowed hosts, only with the token when one is set,
// one dump at a time. A real node:http server on loopback, with a real backlog behind it.
import { once } from 'node:events';
import { createServer, request, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createInspectHandler, dumpOnSignal, type InspectHandlerOptions } from '../../src/inspect/http.js';
import { configure, type InspectReport, inspect, watchStalls } from '../../src/inspect/index.js';
import { TaskRegistry } from '../../src/registry/registry.js';
import { Semaphore } from '../../src/semaphore/semaphore.js';
import { withTimeout } from '../../src/timeout.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

let server: Server;
let port: number;
let handler: ReturnType<typeof createInspectHandler>;

/** A request to the test server; `paused` leaves the answer unread until `resume()` is called. */
function call(
  path: string,
  options: { method?: string; headers?: Record<string, string>; paused?: boolean } = {},
): { answer: Promise<Answer>; resume: () => void } {
  let resume = () => {};
  const answer = new Promise<Answer>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        headers: options.headers,
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
        if (options.paused) {
          res.pause();
          resume = () => res.resume();
        }
      },
    );
    req.on('error', reject);
    req.end();
  });
  return { answer, resume: () => resume() };
}

const get = (path: string, options?: Parameters<typeof call>[1]) => call(path, options).answer;

let handlerOptions: InspectHandlerOptions = {};
beforeAll(async () => {
  server = createServer((req, res) => handler(req, res));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  configure({ captureOrigins: false, recordAges: false });
});
const mount = (options: InspectHandlerOptions = {}) => {
  handlerOptions = options;
  handler = createInspectHandler(handlerOptions);
};

describe('closed to strangers', () => {
  test('only GET and HEAD: anything else is 405 with Allow, and no dump', async () => {
    mount();
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const res = await get('/debug/unwedge', { method });
      expect([method, res.status, res.headers.allow]).toEqual([method, 405, 'GET, HEAD']);
      expect(res.body).toBe('unwedge: only GET and HEAD\n');
      expect(res.headers['cache-control']).toBe('no-store');
    }
    expect((await get('/debug/unwedge', { method: 'HEAD' })).status).toBe(200);
  });

  test('a foreign Host is 403 (DNS rebinding); loopback names with any port are answered', async () => {
    mount();
    for (const host of [
      'attacker.example',
      'attacker.example:9464',
      '10.0.0.7',
      'localhost.attacker.example',
    ]) {
      const res = await get('/debug/unwedge', { headers: { host } });
      expect([host, res.status]).toEqual([host, 403]);
      expect(res.body).toBe('unwedge: unknown host\n');
    }
    for (const host of ['localhost', 'LOCALHOST:9464', '127.0.0.1:80', '[::1]:9464']) {
      expect([host, (await get('/debug/unwedge', { headers: { host } })).status]).toEqual([host, 200]);
    }
  });

  test('allowedHosts names the hosts answered; ["*"] answers any', async () => {
    mount({ allowedHosts: ['debug.internal', '10.0.0.7'] });
    expect((await get('/', { headers: { host: 'debug.internal:9464' } })).status).toBe(200);
    expect((await get('/', { headers: { host: '10.0.0.7' } })).status).toBe(200);
    expect((await get('/', { headers: { host: 'localhost' } })).status).toBe(403);
    mount({ allowedHosts: ['*'] });
    expect((await get('/', { headers: { host: 'anything.example' } })).status).toBe(200);
  });

  test('with a token, a request without it or with another one is 401; with it, 200', async () => {
    mount({ token: 's3cret-token' });
    const none = await get('/debug/unwedge');
    expect([none.status, none.headers['www-authenticate']]).toEqual([401, 'Bearer']);
    expect(none.body).not.toMatch(/semaphore|queue|pool/);
    for (const authorization of [
      'Bearer s3cret-tokeN',
      'Bearer s3cret',
      'Basic czNjcmV0LXRva2Vu',
      's3cret-token',
    ]) {
      expect([authorization, (await get('/', { headers: { authorization } })).status]).toEqual([
        authorization,
        401,
      ]);
    }
    expect((await get('/', { headers: { authorization: 'Bearer s3cret-token' } })).status).toBe(200);
    expect((await get('/', { headers: { authorization: 'bearer s3cret-token' } })).status).toBe(200);
  });

  test('one dump at a time: a request while a dump is still being sent is 429, and the next one after is served', async () => {
    mount({ maxLimit: Number.POSITIVE_INFINITY });
    const sem = new Semaphore(1, { name: 'guard-429' });
    const held = await sem.acquire();
    const parked = Array.from({ length: 50_000 }, () => sem.acquire().then((p) => p.release()));
    try {
      // A JSON dump of 50,000 waits is megabytes: unread, it stays in flight.
      const slow = call('/debug/unwedge?format=json&limit=50000', { paused: true });
      await new Promise((resolve) => setTimeout(resolve, 50)); // the first request reaches the server first
      const second = await get('/debug/unwedge');
      expect([second.status, second.headers['retry-after']]).toEqual([429, '1']);
      slow.resume();
      const first = await slow.answer;
      expect(first.status).toBe(200);
      expect((JSON.parse(first.body) as InspectReport).waits).toBeGreaterThanOrEqual(50_000);
      expect((await get('/debug/unwedge')).status).toBe(200);
    } finally {
      held.release();
      await Promise.all(parked);
    }
  });

  test('?limit= must be an integer from 0 to maxLimit (400 otherwise)', async () => {
    mount({ maxLimit: 500 });
    for (const limit of ['-1', '501', '1.5', 'abc', '']) {
      const res = await get(`/debug/unwedge?limit=${limit}`);
      expect([limit, res.status]).toEqual([limit, 400]);
      expect(res.body).toBe('unwedge: limit must be an integer from 0 to 500\n');
    }
    expect((await get('/debug/unwedge?limit=500')).status).toBe(200);
  });
});

describe('bounded cost', () => {
  test('100,000 parked waits: every dump lists 100 of them, stays under 100 KB, and counts the rest by age', async () => {
    mount();
    configure({ captureOrigins: true });
    const sem = new Semaphore(1, { name: 'guard-backlog' });
    const held = await sem.acquire();
    const parked = Array.from({ length: 100_000 }, () => sem.acquire().then((p) => p.release()));
    try {
      for (const path of ['/debug/unwedge', '/debug/unwedge?format=json']) {
        const res = await get(path);
        expect(res.status).toBe(200);
        // Its size is the bound a test can hold on any machine; its time (a few ms) is measured in
        // bench/inspect.ts, not here, and that only `limit` waits are described is
        // test/core/sample.test.ts's.
        expect(Buffer.byteLength(res.body)).toBeLessThan(100_000);
      }
      const report = JSON.parse((await get('/debug/unwedge?format=json')).body) as InspectReport;
      const block = report.primitives.find((p) => p.name === 'guard-backlog')!;
      expect(block.waits).toHaveLength(100);
      expect(block.omitted!.count).toBe(99_900);
      const counted = Object.values(block.omitted!.ages).reduce((a, b) => a + b, 0);
      expect(counted + block.omitted!.unknownAge).toBe(99_900);
      expect(block.waits.every((w) => w.origin.length > 0)).toBe(true); // origins for the listed waits
      const text = (await get('/debug/unwedge?limit=3')).body;
      expect(text).toMatch(
        /semaphore "guard-backlog": 1 permit, 1 in use, 100000 waiting\n(.*\n(\s{8}at .*\n)*){3}\s+… and 99997 more, not listed: /,
      );
    } finally {
      held.release();
      await Promise.all(parked);
    }
  });
});

describe('redact', () => {
  test('every name a dump shows goes through redact: primitives, registry tasks, withTimeout calls', async () => {
    const redact = (name: string) =>
      name.replace(/[\w.+-]+@[\w.-]+/g, '<email>').replace(/token=\S+/g, 'token=<redacted>');
    mount({ redact });
    const sem = new Semaphore(1, { name: 'tenant ann@example.com' });
    const held = await sem.acquire();
    const waiting = sem.acquire();
    const registry = new TaskRegistry({ name: 'bg' });
    registry.spawn(
      'mail bob@example.com token=abc123',
      (signal) => new Promise((resolve) => signal.addEventListener('abort', resolve)),
    );
    const controller = new AbortController();
    const timed = withTimeout(() => new Promise(() => {}), 60_000, {
      name: 'fetch token=xyz',
      signal: controller.signal,
    }).catch(() => {});
    try {
      for (const path of ['/debug/unwedge', '/debug/unwedge?format=json']) {
        const body = (await get(path)).body;
        expect(body).not.toMatch(/example\.com|abc123|xyz/);
        expect(body).toContain('<email>');
        expect(body).toContain('token=<redacted>');
      }
      const report = inspect({ redact });
      expect(report.primitives.some((p) => p.name === 'tenant <email>')).toBe(true);
      const written: string[] = [];
      const stop = dumpOnSignal('SIGUSR2', { write: (t) => written.push(t), redact });
      process.emit('SIGUSR2', 'SIGUSR2');
      stop();
      expect(written[0]).not.toMatch(/example\.com|abc123|xyz/);
    } finally {
      held.release();
      (await waiting).release();
      controller.abort();
      await timed;
      await registry.shutdown({ timeout: 1_000 });
    }
  });
});

describe('the stall watcher on a backlog', () => {
  test('100,000 stalled waits: at most `limit` reported one by one, then one backlog line, again only when it doubles', async () => {
    const stalls: Array<{ phase: string; count?: number; name?: string }> = [];
    const sem = new Semaphore(1, { name: 'guard-stall-backlog' });
    const held = await sem.acquire();
    const parked = Array.from({ length: 100_000 }, () => sem.acquire().then((p) => p.release()));
    const mine = (s: { phase: string; name: string | undefined; count?: number }) => {
      if (s.name === 'guard-stall-backlog') stalls.push(s);
    };
    await new Promise((resolve) => setTimeout(resolve, 30)); // every wait is past the threshold at the first look
    const watcher = watchStalls({ threshold: 20, interval: 10, limit: 10, onStall: mine });
    try {
      await new Promise((resolve) => setTimeout(resolve, 100)); // several looks
      expect(stalls.filter((s) => s.phase === 'stalled')).toHaveLength(10);
      const backlog = stalls.filter((s) => s.phase === 'backlog');
      expect(backlog).toHaveLength(1); // the same backlog is not said again at every look
      expect(backlog[0]!.count).toBe(99_990);
    } finally {
      watcher.stop();
      held.release();
      await Promise.all(parked);
    }
  });
});

describe('bad input', () => {
  test.each([
    ['an unknown option', { limt: 5 }, TypeError, /limt/],
    [
      'allowedHosts not an array',
      { allowedHosts: 'localhost' },
      TypeError,
      /^options\.allowedHosts must be an array of host names; received "localhost"$/,
    ],
    ['allowedHosts with an empty name', { allowedHosts: [''] }, TypeError, /^options\.allowedHosts must be/],
    ['token empty', { token: '' }, TypeError, /^options\.token must be a non-empty string; received ""$/],
    [
      'token not a string',
      { token: 42 },
      TypeError,
      /^options\.token must be a non-empty string; received 42$/,
    ],
    ['limit negative', { limit: -1 }, RangeError, /options\.limit/],
    ['limit not an integer', { limit: 1.5 }, RangeError, /options\.limit/],
    [
      'limit above maxLimit',
      { limit: 50, maxLimit: 10 },
      RangeError,
      /^options\.limit must be <= options\.maxLimit \(10\); received 50$/,
    ],
    ['maxLimit NaN', { maxLimit: Number.NaN }, RangeError, /options\.maxLimit/],
    [
      'redact not a function',
      { redact: 'x' },
      TypeError,
      /^options\.redact must be a function; received "x"$/,
    ],
  ])('createInspectHandler: %s', (_, options, type, message) => {
    expect(() => createInspectHandler(options as InspectHandlerOptions)).toThrow(type);
    expect(() => createInspectHandler(options as InspectHandlerOptions)).toThrow(message);
  });

  test.each([
    ['inspect', () => inspect({ limit: -1 }), RangeError, /options\.limit/],
    ['inspect', () => inspect({ redact: 1 } as never), TypeError, /options\.redact/],
    ['inspect', () => inspect({ limits: 1 } as never), TypeError, /limits/],
    ['dumpOnSignal', () => dumpOnSignal('SIGUSR2', { limit: Number.NaN }), RangeError, /options\.limit/],
    ['watchStalls', () => watchStalls({ threshold: 10, limit: -2 }), RangeError, /options\.limit/],
    ['watchStalls', () => watchStalls({ threshold: 10, redact: 'x' } as never), TypeError, /options\.redact/],
  ])('%s rejects bad limit and redact options', (_, make, type, message) => {
    expect(make).toThrow(type);
    expect(make).toThrow(message);
  });
});

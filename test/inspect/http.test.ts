// unwedge/inspect/http: the dump over HTTP and on a signal.
import { once } from 'node:events';
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import { describe, expect, test, vi } from 'vitest';
import { register, unregister } from '../../src/core/live.js';
import { createInspectHandler, dumpOnSignal } from '../../src/inspect/http.js';
import type { InspectReport } from '../../src/inspect/index.js';
import { WorkerPool } from '../../src/pool/index.js';
import { Semaphore } from '../../src/semaphore/semaphore.js';
import { find, onFakeTimeWithDefaults } from '../support/inspect.js';
import { track } from '../support/promises.js';

onFakeTimeWithDefaults();

// Creating a handler turns timing on for good: the first test needs it off, so it runs first.
describe('unwedge/inspect/http', () => {
  test('creating an inspect handler turns timing on for good', async () => {
    const sem = new Semaphore(1, { name: 'timed-by-handler' });
    const held = await sem.acquire();
    const before = sem.acquire();
    createInspectHandler();
    const after = sem.acquire();
    await vi.advanceTimersByTimeAsync(300);
    expect(find('semaphore', 'timed-by-handler')!.waits.map((w) => [w.age, w.ageIsLowerBound])).toEqual([
      [300, false],
      [0, true],
    ]);
    held.release();
    (await before).release();
    (await after).release();
  });

  test('the handler answers 500 when a snapshot throws, and writes Infinity as a string in JSON', () => {
    const respond = (url: string) => {
      const res = { statusCode: 0, headers: {} as Record<string, string>, body: '' };
      const handler = createInspectHandler();
      handler(
        { method: 'GET', url, headers: { host: 'localhost:9464' } } as unknown as IncomingMessage,
        {
          set statusCode(code: number) {
            res.statusCode = code;
          },
          once: () => {},
          setHeader: (k: string, v: string) => {
            res.headers[k] = v;
          },
          end: (body?: string) => {
            res.body = body ?? '';
          },
        } as unknown as ServerResponse,
      );
      return res;
    };
    const _pool = new WorkerPool({
      concurrency: 1,
      maxQueue: Number.POSITIVE_INFINITY,
      name: 'json-infinity',
    });
    const report = JSON.parse(respond('/debug/unwedge?format=json').body) as InspectReport;
    expect(find('pool', 'json-infinity', report)!.stats.maxQueue).toBe('Infinity');
    const token = register({}, () => {
      throw new Error('describe broke');
    });
    try {
      const res = respond('/debug/unwedge');
      expect(res.statusCode).toBe(500);
      expect(res.body).toBe('unwedge: could not take the dump: Error: describe broke\n');
      expect(res.headers['cache-control']).toBe('no-store');
    } finally {
      unregister(token);
    }
  });

  test('createInspectHandler serves the dump as text, or as JSON with ?format=json', async () => {
    vi.useRealTimers();
    const sem = new Semaphore(1, { name: 'http-sem' });
    const held = await sem.acquire();
    const waiting = track(sem.acquire());
    const handler = createInspectHandler();
    const server = createServer((req, res) => handler(req, res));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    const get = (path: string, method = 'GET') =>
      new Promise<{ status?: number; type?: string; body: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            body += chunk;
          });
          res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], body }));
        });
        req.on('error', reject);
        req.end();
      });
    try {
      const text = await get('/debug/unwedge');
      expect(text.status).toBe(200);
      expect(text.type).toBe('text/plain; charset=utf-8');
      expect(text.body).toContain('semaphore "http-sem": 1 permit, 1 in use, 1 waiting');
      const json = await get('/debug/unwedge?format=json');
      expect(json.type).toBe('application/json; charset=utf-8');
      const report = JSON.parse(json.body) as InspectReport;
      expect(find('semaphore', 'http-sem', report)!.waits).toHaveLength(1);
      const head = await get('/debug/unwedge', 'HEAD');
      expect(head.body).toBe('');
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    held.release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(waiting.status).toBe('fulfilled');
  });

  test('the handler answers a request without a url with the text dump', () => {
    const headers: Record<string, string> = {};
    let body = '';
    const res = {
      statusCode: 0,
      once: () => {},
      setHeader: (k: string, v: string) => {
        headers[k] = v;
      },
      end: (chunk?: string) => {
        body = chunk ?? '';
      },
    };
    createInspectHandler()(
      { method: 'GET', headers: { host: '127.0.0.1' } } as unknown as IncomingMessage,
      res as unknown as ServerResponse,
    );
    expect(res.statusCode).toBe(200);
    expect(headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(body).toMatch(/^unwedge: /);
  });

  test('dumpOnSignal writes the dump on the signal until disposed', () => {
    const written: string[] = [];
    const before = process.listenerCount('SIGUSR2');
    const stop = dumpOnSignal('SIGUSR2', { write: (text) => written.push(text) });
    expect(process.listenerCount('SIGUSR2')).toBe(before + 1);
    process.emit('SIGUSR2', 'SIGUSR2');
    expect(written).toHaveLength(1);
    expect(written[0]).toMatch(/^unwedge: \d+ waits? in/);
    stop();
    expect(process.listenerCount('SIGUSR2')).toBe(before);
    process.emit('SIGUSR2', 'SIGUSR2');
    expect(written).toHaveLength(1);
    const disposer = dumpOnSignal('SIGUSR2', { write: () => {} });
    disposer[Symbol.dispose]();
    expect(process.listenerCount('SIGUSR2')).toBe(before);
  });

  test('dumpOnSignal writes to stderr by default and rejects bad arguments', () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const stop = dumpOnSignal();
    process.emit('SIGUSR2', 'SIGUSR2');
    stop();
    expect(String(write.mock.calls[0]?.[0])).toMatch(/^unwedge: /);
    expect(() => dumpOnSignal(2 as unknown as NodeJS.Signals)).toThrow(TypeError);
    expect(() => dumpOnSignal('SIGUSR2', { write: 1 as unknown as () => void })).toThrow(TypeError);
  });
});

// Small loopback helpers shared by the examples: start a server, make a bounded request, probe a
// health route. Everything binds 127.0.0.1 on a free port and is closed by the caller.
import { once } from 'node:events';
import {
  type Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type RequestListener,
  type Server,
} from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';

export interface Running {
  port: number;
  /** Stops listening and destroys every open connection, so nothing keeps the process alive. */
  close(): Promise<void>;
}

/** Starts an HTTP server on 127.0.0.1 with a free port. */
export async function listen(handler: RequestListener): Promise<Running & { server: Server }> {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  return {
    server,
    port,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A TCP server that accepts connections and never says a word: a database that hangs. */
export async function silentTcpServer(): Promise<Running & { connections(): number }> {
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    connections: () => sockets.size,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export interface Reply {
  /** The HTTP status, or `undefined` when no answer came within the client's limit. */
  status: number | undefined;
  body: string;
  ms: number;
}

/** GETs `path` with a client-side limit, so a hung server shows as "no answer" instead of hanging us. */
export function get(port: number, path: string, limitMs = 2_000): Promise<Reply> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent: false }, (res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode, body, ms: performance.now() - started });
      });
    });
    const timer = setTimeout(() => {
      req.destroy();
      resolve({ status: undefined, body: '', ms: performance.now() - started });
    }, limitMs);
    req.on('error', () => {
      clearTimeout(timer);
      resolve({ status: undefined, body: '', ms: performance.now() - started });
    });
    req.end();
  });
}

/** Probes `path` every `everyMs` until stopped; reports latencies in ms (a missed answer counts as its limit). */
export function probe(port: number, path = '/health', everyMs = 20) {
  const latencies: number[] = [];
  const series: Array<[number, number]> = [];
  const started = performance.now();
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const sent = performance.now();
      const reply = await get(port, path, 1_000);
      const ms = reply.status === 200 ? reply.ms : 1_000;
      latencies.push(ms);
      series.push([round(sent - started), round(ms)]);
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { ...summarize(latencies), series };
    },
  };
}

export interface Latency {
  count: number;
  p50: number;
  p99: number;
  max: number;
  /** Answers slower than 100 ms: a stall anyone would notice. */
  stalls: number;
  /** With `probe`: each answer as [ms since the probe started, latency ms], for plotting. */
  series?: Array<[number, number]>;
}

export function summarize(values: number[]): Latency {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return {
    count: sorted.length,
    p50: round(at(0.5)),
    p99: round(at(0.99)),
    max: round(sorted.at(-1) ?? 0),
    stalls: sorted.filter((ms) => ms > 100).length,
  };
}

export function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/** GETs one chunk over `agent`; stops (destroying the socket) when `signal` aborts. */
export function fetchChunk(port: number, chunk: number, agent: Agent, signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: `/chunk/${chunk}`, agent, signal }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (part: string) => {
        body += part;
      });
      res.on('end', () =>
        res.statusCode === 200 ? resolve(body) : reject(new Error(`chunk ${chunk}: ${res.statusCode}`)),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

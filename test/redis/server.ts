// A real redis-server per test file: a free loopback port, a temporary directory, no persistence
// unless asked for. `stop()` kills it and waits for its exit; `start()` brings it back on the same
// port (empty, as after a crash of an instance without persistence; with `persistence`, with every
// write it had acknowledged, from its append-only file). Missing redis-server fails with one line.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const INSTALL_HINT =
  'redis-server is not on PATH: the Redis tests need it (Debian/Ubuntu: apt-get install -y redis-server)';

export interface RedisServer {
  readonly port: number;
  /** Starts the server (again) on its port and resolves once it answers PING. */
  start(): Promise<void>;
  /** Kills the server and resolves once it has exited. Safe to call when stopped. */
  stop(): Promise<void>;
  /** Stops the server and removes its directory. */
  destroy(): Promise<void>;
}

export interface RedisServerOptions {
  /** `appendonly yes` with `appendfsync always`: a SIGKILL loses no acknowledged write. */
  persistence?: boolean;
  /** `enable-debug-command yes`: allows `DEBUG SLEEP` (off by default since Redis 7). */
  debug?: boolean;
  /** More arguments for redis-server, e.g. `['--cluster-enabled', 'yes']`. */
  args?: string[];
}

/** Starts a redis-server on a free 127.0.0.1 port and resolves once it answers PING (≤ 10 s). */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const persistence = options.persistence
    ? ['--appendonly', 'yes', '--appendfsync', 'always']
    : ['--appendonly', 'no'];
  if (options.debug) persistence.push('--enable-debug-command', 'yes');
  persistence.push(...(options.args ?? []));
  const dir = mkdtempSync(join(tmpdir(), 'unwedge-redis-'));
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let port = 0;

  const launch = async (): Promise<void> => {
    const proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--dir', dir],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = proc;
    let output = '';
    proc.stdout!.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4_000);
    });
    proc.stderr!.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4_000);
    });
    exited = new Promise<void>((resolve) => proc.once('close', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => finish(new Error(`redis-server did not start in 10 s:\n${output}`)),
        10_000,
      );
      const onData = () => {
        if (output.includes('Ready to accept connections')) finish();
      };
      const onError = (error: NodeJS.ErrnoException) =>
        finish(error.code === 'ENOENT' ? new Error(INSTALL_HINT) : error);
      const onExit = (code: number | null, signal: string | null) =>
        finish(new Error(`redis-server exited (${code ?? signal}) before it was ready:\n${output}`));
      function finish(error?: Error): void {
        clearTimeout(timer);
        proc.stdout!.off('data', onData);
        proc.off('error', onError);
        proc.off('exit', onExit);
        if (error === undefined) {
          resolve();
          return;
        }
        proc.stdout!.destroy();
        proc.stderr!.destroy();
        reject(error);
      }
      proc.stdout!.on('data', onData);
      proc.once('error', onError);
      proc.once('exit', onExit);
    });
    await ping(port);
  };

  const server: RedisServer = {
    get port() {
      return port;
    },
    async start() {
      if (child !== undefined) return;
      await launch();
    },
    async stop() {
      const proc = child;
      child = undefined;
      if (proc === undefined || proc.pid === undefined) return; // never spawned (ENOENT)
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
    async destroy() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };

  // A port found free may be taken before redis-server binds it: try a few.
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    port = await freePort();
    try {
      await launch();
      return server;
    } catch (error) {
      lastError = error;
      await server.stop();
      if ((error as Error).message === INSTALL_HINT) break;
    }
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** Resolves once `PING` on `port` gets `+PONG` (within 5 s). */
function ping(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    let answer = '';
    const timer = setTimeout(
      () => done(new Error(`redis-server on port ${port} did not answer PING`)),
      5_000,
    );
    function done(error?: Error): void {
      clearTimeout(timer);
      socket.destroy();
      if (error === undefined) resolve();
      else reject(error);
    }
    socket.once('error', done);
    socket.on('data', (chunk) => {
      answer += chunk.toString();
      if (answer.startsWith('+PONG')) done();
      else if (answer.includes('\r\n'))
        done(new Error(`redis-server on port ${port} answered PING with ${answer}`));
    });
    socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
  });
}

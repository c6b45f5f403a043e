// Stopping a node:http / https / net Server within a deadline, as http-terminator and close-with-grace
// do, and saying which requests the deadline cut off. From `use()` on, it counts the open sockets
// and the requests in flight (one Set entry each). Stopping: `close()` at once (new connections are
// refused), idle keep-alive connections closed at once and each one as its response ends (Node's
// close() leaves a keep-alive socket open after its last response: 5 s of keepAliveTimeout), and a
// response not begun yet says `Connection: close`. At the deadline every socket left is destroyed.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server, Socket } from 'node:net';
import { type AbortHook, offAbort, onAbort } from '../core/abort.js';
import { count } from '../core/count.js';
import { now } from '../core/track.js';
import type { WaitReport } from '../inspect/dump.js';
import type { Step, StepStragglers } from './resources.js';

/** An http or https server: it has requests, and knows which of its connections are idle. */
interface HttpServer extends Server {
  closeIdleConnections(): void;
  closeAllConnections(): void;
}

const isHttp = (server: Server): server is HttpServer =>
  typeof (server as Partial<HttpServer>).closeIdleConnections === 'function' &&
  typeof (server as Partial<HttpServer>).closeAllConnections === 'function';

// On the response itself rather than in a closure per request: the request path stays boring.
const STEP = Symbol('unwedge.lifecycle.server');
const SINCE = Symbol('unwedge.lifecycle.since');
const WHAT = Symbol('unwedge.lifecycle.what');
type Tracked = ServerResponse & { [STEP]: ServerStep; [SINCE]: number; [WHAT]: string };
type TrackedSocket = Socket & { [SINCE]: number };

/** `127.0.0.1:52344`, `[::1]:52344`, or `a local socket` (a Unix socket has no peer address). */
function peerOf(socket: Socket): string {
  const { remoteAddress: address, remotePort: port, remoteFamily: family } = socket;
  if (address === undefined) return 'a local socket';
  return `${family === 'IPv6' ? `[${address}]` : address}:${port}`;
}

/** `server 127.0.0.1:8080`, `server [::1]:8080`, `server /tmp/app.sock`, or `server` when not listening. */
function nameOf(server: Server): string {
  const address = server.address();
  if (address === null) return 'server';
  if (typeof address === 'string') return `server ${address}`;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `server ${host}:${address.port}`;
}

/** @internal A Server as a Lifecycle stops it. */
export class ServerStep implements Step {
  #name: string | undefined;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #requests = new Set<Tracked>();
  /** The requests in flight when the deadline destroyed their connections. */
  #cut: WaitReport[] = [];
  #stopping = false;

  constructor(server: Server, name: string | undefined) {
    this.#server = server;
    this.#name = name;
    server.on('connection', this.#onConnection);
    // Before the app's handler, which may answer at once: a request that comes while we stop must
    // be answered with `Connection: close`.
    if (isHttp(server)) server.prependListener('request', this.#onRequest);
  }

  /** Given, or the address it listened on when its stop began. */
  get name(): string {
    return this.#name ?? 'server';
  }

  /**
   * Refuses new connections at once and closes the idle ones; lets the requests in flight finish
   * until `force` aborts, then destroys every socket left. Resolves when the server has closed
   * (every connection ended); never rejects (closing a server that was not listening is not a failure).
   */
  stop(_left: number, force: AbortSignal): Promise<undefined> {
    this.#name ??= nameOf(this.#server);
    this.#stopping = true;
    let hook: AbortHook | undefined;
    const closed = new Promise<undefined>((resolve) => {
      // Called once the server has closed and every connection ended (with an error when it was
      // not listening, which is no failure here).
      this.#server.close(() => {
        offAbort(hook);
        this.#server.off('connection', this.#onConnection);
        this.#server.off('request', this.#onRequest);
        resolve(undefined);
      });
    });
    for (const res of this.#requests) if (!res.headersSent) res.shouldKeepAlive = false;
    this.#closeIdle();
    if (force.aborted) this.#destroyAll();
    else hook = onAbort(force, () => this.#destroyAll());
    return closed;
  }

  /**
   * The requests the deadline cut off, oldest first. Nothing else can be left: the lifecycle
   * reports after the deadline, which destroys every socket the server has.
   */
  stragglers(): StepStragglers | undefined {
    if (this.#cut.length === 0) return undefined;
    const connections = this.#cut.filter((c) => c.what.startsWith('connection from ')).length;
    const requests = this.#cut.length - connections;
    const parts = [];
    if (requests > 0) parts.push(count(requests, 'request'));
    if (connections > 0) parts.push(count(connections, 'connection'));
    return { summary: `${parts.join(' and ')} cut off at the deadline`, running: this.#cut };
  }

  /**
   * The deadline: every request still in flight is cut off, every socket destroyed. Requests are
   * named by method and path; a connection that carried none of them (a plain net.Server's, an
   * upgraded one such as a WebSocket) by its peer's address.
   */
  #destroyAll(): void {
    const t = now();
    // The Set is in arrival order: the oldest request first.
    for (const res of this.#requests) this.#cut.push(cutOff(res[WHAT], t - res[SINCE]));
    this.#requests.clear();
    if (isHttp(this.#server)) this.#server.closeAllConnections();
    // Upgraded sockets (WebSockets) and those of a plain net.Server are not the http server's to close.
    for (const socket of this.#sockets) {
      if (socket.destroyed) continue; // closed with its request above
      this.#cut.push(cutOff(`connection from ${peerOf(socket)}`, t - (socket as TrackedSocket)[SINCE]));
      socket.destroy();
    }
  }

  #closeIdle(): void {
    if (isHttp(this.#server)) this.#server.closeIdleConnections();
  }

  readonly #onConnection = (socket: Socket): void => {
    (socket as TrackedSocket)[SINCE] = now();
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
  };

  readonly #onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const tracked = res as Tracked;
    tracked[STEP] = this;
    tracked[SINCE] = now();
    // The path only: a query string may carry a token, and this text goes to stderr.
    tracked[WHAT] = `${req.method} ${req.url!.split('?')[0]}`; // a server's request always has its url
    this.#requests.add(tracked);
    // A request that arrives on a kept-alive connection while stopping is served, then that connection closes.
    if (this.#stopping) res.shouldKeepAlive = false;
    res.once('close', responseClosed);
  };

  /** A response ended: its connection may now be idle, and is closed if we are stopping. */
  static ended(res: Tracked): void {
    const step = res[STEP];
    step.#requests.delete(res);
    if (step.#stopping) step.#closeIdle();
  }
}

function responseClosed(this: ServerResponse): void {
  ServerStep.ended(this as Tracked);
}

function cutOff(what: string, age: number): WaitReport {
  return {
    what,
    state: 'cut off',
    age: Math.round(age),
    ageIsLowerBound: false,
    timeout: undefined,
    origin: [],
  };
}

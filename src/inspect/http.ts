/**
 * The dump where operators look: a `/debug/unwedge` route ({@link createInspectHandler}) and a
 * signal that writes it to stderr ({@link dumpOnSignal}).
 *
 * @module unwedge/inspect/http
 */

import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { disposeSymbol } from '../core/compat.js';
import { unuseTiming, useTiming } from '../core/track.js';
import * as check from '../core/validate.js';
import { checkInspectOptions, formatInspect, inspect } from './dump.js';

/**
 * A `node:http` request handler, also usable as Express middleware (its `next` is never called).
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { createInspectHandler, type InspectHandler } from 'unwedge/inspect/http';
 * const debug: InspectHandler = createInspectHandler();
 * // Express: app.get('/debug/unwedge', debug)
 * const server = createServer((req, res) => (req.url?.startsWith('/debug/unwedge') ? debug(req, res) : res.end()));
 * server.close(); // never listened here
 * ```
 */
export type InspectHandler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Options of {@link createInspectHandler}.
 *
 * @example
 * ```ts
 * import { createInspectHandler, type InspectHandlerOptions } from 'unwedge/inspect/http';
 * const options: InspectHandlerOptions = {
 *   allowedHosts: ['localhost', '127.0.0.1', 'api-7f9c.internal'], // the names it is reached by
 *   token: process.env.UNWEDGE_DEBUG_TOKEN ?? 'change-me', // Authorization: Bearer <token>
 *   limit: 50, // waits listed per primitive by default
 *   maxLimit: 500, // the most ?limit= may ask for
 *   redact: (name) => name.replace(/[\w.+-]+@[\w.-]+/g, '<email>'),
 * };
 * const debug = createInspectHandler(options);
 * console.log(typeof debug); // → function
 * ```
 */
export interface InspectHandlerOptions {
  /**
   * The host names (the `Host` header without its port) it answers; any other gets 403, so that
   * a web page cannot read the dump through DNS rebinding (binding to loopback does not stop
   * that). Default: `['localhost', '127.0.0.1', '::1']`. Add the names it is reached by (a pod's
   * address, an internal DNS name); `['*']` answers any host (behind a proxy that checks).
   */
  allowedHosts?: readonly string[];
  /**
   * When set, a request must carry `Authorization: Bearer <token>` (compared in constant time),
   * or gets 401. Default: none.
   */
  token?: string;
  /** Waits listed per primitive, the oldest (the rest are counted by age). Default 100. */
  limit?: number;
  /** The most waits per primitive a request may ask for with `?limit=`. Default 1,000. */
  maxLimit?: number;
  /** Applied to every name the dump shows, as `inspect()`'s `redact`. Default: names as given. */
  redact?: (name: string) => string;
}

const HANDLER_KEYS = ['allowedHosts', 'token', 'limit', 'maxLimit', 'redact'] as const;
const LOOPBACK = ['localhost', '127.0.0.1', '::1'];

/**
 * Returns a `node:http`-style handler that answers with the live dump of every wait: text (as
 * {@link formatInspect} writes it) by default, or the {@link inspect} report as JSON with
 * `?format=json`; `?limit=N` lists up to N waits per primitive (at most `maxLimit`). Its cost is
 * bounded whatever the backlog: at most `limit` waits per primitive are described, the rest
 * counted (docs/inspect.md has the figures). It answers only GET and HEAD (405), only the
 * allowed hosts (403), only with the token when one is set (401), and one request at a time: a
 * request while a dump is still being sent gets 429. Every answer has `Cache-Control: no-store`.
 * Mount it on an internal route: the dump names your primitives and tasks, and with origins on
 * your code's files and lines (see `redact`).
 * For Fastify: `app.get('/debug/unwedge', (req, reply) => { reply.hijack(); handler(req.raw, reply.raw); })`.
 * Creating one turns timing on for good (as `configure({ recordAges: true })` does, without
 * changing what `configure` reports), so that every wait parked from then on shows its exact age.
 * In the JSON, `Infinity` (e.g. `maxQueue`) is written as the string `"Infinity"`.
 *
 * @example
 * ```ts
 * import { once } from 'node:events';
 * import { createServer } from 'node:http';
 * import { createInspectHandler } from 'unwedge/inspect/http';
 * const token = process.env.DEBUG_TOKEN ?? 'change-me';
 * const debug = createInspectHandler({ token });
 * const server = createServer((req, res) => {
 *   if (req.url?.startsWith('/debug/unwedge')) return debug(req, res);
 *   res.end('hello');
 * }).listen(0, '127.0.0.1'); // an internal port
 * await once(server, 'listening');
 * const { port } = server.address() as { port: number };
 * // curl -H "Authorization: Bearer $DEBUG_TOKEN" http://127.0.0.1:<port>/debug/unwedge
 * const res = await fetch(`http://127.0.0.1:${port}/debug/unwedge`, { headers: { authorization: `Bearer ${token}` } });
 * console.log(res.status, (await res.text()).startsWith('unwedge: ')); // → 200 true
 * const json = await fetch(`http://127.0.0.1:${port}/debug/unwedge?format=json`); // no token
 * console.log(json.status); // → 401
 * await json.body?.cancel();
 * server.close();
 * server.closeAllConnections();
 * ```
 */
export function createInspectHandler(options?: InspectHandlerOptions): InspectHandler {
  const o = check.options<InspectHandlerOptions>(options, HANDLER_KEYS);
  const hosts = checkHosts(o.allowedHosts);
  const token = o.token === undefined ? undefined : digest(checkToken(o.token));
  const maxLimit =
    o.maxLimit === undefined ? 1_000 : check.integerOrInfinity(o.maxLimit, 'options.maxLimit', 0);
  const { limit, redact } = checkInspectOptions({ limit: o.limit, redact: o.redact });
  if (limit > maxLimit)
    throw new RangeError(`options.limit must be <= options.maxLimit (${maxLimit}); received ${limit}`);
  // A handler mounted at start-up is there for the hang to come: from now on, waits record their
  // start so the dump gives exact ages (one clock read per parked wait).
  useTiming();
  let sending = false;
  return (req, res) => {
    res.setHeader('cache-control', 'no-store');
    res.setHeader('x-content-type-options', 'nosniff');
    if (hosts !== undefined && !hosts.has(hostname(req.headers?.host)))
      return refuse(res, 403, 'unknown host');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return refuse(res, 405, 'only GET and HEAD');
    }
    if (token !== undefined && !bearerMatches(req.headers?.authorization, token)) {
      res.setHeader('www-authenticate', 'Bearer');
      return refuse(res, 401, 'a bearer token is needed');
    }
    if (sending) {
      res.setHeader('retry-after', '1');
      return refuse(res, 429, 'a dump is being sent; one at a time');
    }
    const query = new URLSearchParams((req.url ?? '').split('?')[1] ?? '');
    const json = query.get('format') === 'json';
    const asked = query.get('limit');
    const n = asked === null ? limit : /^\d+$/.test(asked) ? Number(asked) : -1;
    if (!Number.isSafeInteger(n) || n < 0 || n > maxLimit)
      return refuse(res, 400, `limit must be an integer from 0 to ${maxLimit}`);
    let body: string;
    try {
      const report = inspect({ limit: n, redact });
      body = json ? `${JSON.stringify(report, infinity, 2)}\n` : formatInspect(report);
    } catch (error) {
      // Never a crash in the request listener of the route operators use in a bad hour.
      return refuse(res, 500, `could not take the dump: ${String(error)}`);
    }
    sending = true;
    res.once('close', () => {
      sending = false;
    });
    res.statusCode = 200;
    res.setHeader('content-type', json ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8');
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}

function refuse(res: ServerResponse, status: number, why: string): void {
  res.statusCode = status;
  res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.end(`unwedge: ${why}\n`);
}

function checkHosts(value: unknown): Set<string> | undefined {
  if (value === undefined) return new Set(LOOPBACK);
  if (!Array.isArray(value) || value.some((h) => typeof h !== 'string' || h === ''))
    throw new TypeError(`options.allowedHosts must be an array of host names; received ${check.show(value)}`);
  if (value.includes('*')) return undefined;
  return new Set(value.map((h: string) => h.toLowerCase().replace(/^\[(.*)\]$/, '$1')));
}

function checkToken(value: unknown): string {
  if (typeof value !== 'string' || value === '')
    throw new TypeError(`options.token must be a non-empty string; received ${check.show(value)}`);
  return value;
}

/** `example.com:8080` → `example.com`, `[::1]:9464` → `::1`; lower case. */
function hostname(host: string | undefined): string {
  if (host === undefined) return '';
  const h = host.toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']'));
  const colon = h.indexOf(':');
  return colon === -1 ? h : h.slice(0, colon);
}

// Compared as SHA-256 digests: equal lengths for timingSafeEqual, and no early exit that would
// tell a caller how much of the token it guessed.
function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function bearerMatches(header: string | undefined, token: Buffer): boolean {
  const match = /^Bearer +(\S+) *$/i.exec(header ?? '');
  return match !== null && timingSafeEqual(digest(match[1]!), token);
}

/** JSON has no Infinity (JSON.stringify writes null): `maxQueue: Infinity` stays readable. */
function infinity(_key: string, value: unknown): unknown {
  return value === Number.POSITIVE_INFINITY ? 'Infinity' : value;
}

/**
 * Stops what {@link dumpOnSignal} started; also a `Disposable`.
 *
 * @example
 * ```ts
 * import { type Disposer, dumpOnSignal } from 'unwedge/inspect/http';
 * {
 *   using _stop: Disposer = dumpOnSignal('SIGUSR2');
 *   // ... kill -USR2 <pid> writes the dump while this block runs
 * } // the listener is removed here
 * console.log(process.listenerCount('SIGUSR2')); // → 0
 * ```
 */
export interface Disposer {
  /** Removes the signal listener. Idempotent. */
  (): void;
  /** Same as calling it, for `using stop = dumpOnSignal()`. */
  [Symbol.dispose](): void;
}

/**
 * Options of {@link dumpOnSignal}.
 *
 * @example
 * ```ts
 * import { once } from 'node:events';
 * import { type DumpOnSignalOptions, dumpOnSignal } from 'unwedge/inspect/http';
 * const options: DumpOnSignalOptions = {
 *   write: (text) => console.log(text.split('\n')[0]!.startsWith('unwedge: ')), // → true
 *   limit: 20,
 * };
 * const stop = dumpOnSignal('SIGUSR2', options);
 * const signalled = once(process, 'SIGUSR2');
 * process.kill(process.pid, 'SIGUSR2'); // as `kill -USR2 <pid>` would
 * await signalled;
 * stop();
 * ```
 */
export interface DumpOnSignalOptions {
  /** Receives the text. Default: stderr. */
  write?: (text: string) => void;
  /** Waits listed per primitive, the oldest (the rest are counted by age). Default 100. */
  limit?: number;
  /** Applied to every name the dump shows, as `inspect()`'s `redact`. Default: names as given. */
  redact?: (name: string) => string;
}

const DUMP_KEYS = ['write', 'limit', 'redact'] as const;

/**
 * Writes the dump ({@link formatInspect}) to stderr each time the process receives `signal`
 * (default `SIGUSR2`; `SIGUSR1` is Node's inspector), e.g. `kill -USR2 <pid>`. Listening for a
 * signal does not keep the process alive. Waits parked while it listens record their start, so
 * the dump gives exact ages (see `configure`'s `recordAges`). Returns a function that removes the listener.
 *
 * @example
 * ```ts
 * import { dumpOnSignal } from 'unwedge/inspect/http';
 * const stop = dumpOnSignal(); // then: kill -USR2 <pid>, and the dump is on stderr
 * // ... at shutdown:
 * stop();
 * ```
 */
export function dumpOnSignal(signal: NodeJS.Signals = 'SIGUSR2', options?: DumpOnSignalOptions): Disposer {
  if (typeof signal !== 'string')
    throw new TypeError(`signal must be a signal name; received ${check.show(signal)}`);
  const o = check.options<DumpOnSignalOptions>(options, DUMP_KEYS);
  const sample = checkInspectOptions({ limit: o.limit, redact: o.redact });
  const write =
    o.write === undefined
      ? (text: string) => process.stderr.write(text)
      : check.func<(text: string) => void>(o.write, 'options.write');
  const listener = () => {
    try {
      write(formatInspect(inspect(sample)));
    } catch (error) {
      process.stderr.write(`unwedge: dumpOnSignal could not write the dump: ${String(error)}\n`);
    }
  };
  process.on(signal, listener);
  useTiming();
  let stopped = false;
  const stop = (() => {
    if (stopped) return;
    stopped = true;
    process.off(signal, listener);
    unuseTiming();
  }) as Disposer;
  stop[disposeSymbol] = stop;
  return stop;
}

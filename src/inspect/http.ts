// The dump where operators look: a `/debug/unwedge` route, and a signal that writes it to stderr.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { disposeSymbol } from '../core/compat.js';
import { unuseTiming, useTiming } from '../core/track.js';
import * as check from '../core/validate.js';
import { formatInspect, inspect } from './dump.js';

/** A `node:http` request handler, also usable as Express middleware (its `next` is never called). */
export type InspectHandler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Returns a `node:http`-style handler that answers with the live dump of every wait: text (as
 * {@link formatInspect} writes it) by default, or the {@link inspect} report as JSON with
 * `?format=json`. Mount it on an internal route: the dump names your code's files and lines.
 * For Fastify: `app.get('/debug/unwedge', (req, reply) => { reply.hijack(); handler(req.raw, reply.raw); })`.
 * Creating one turns timing on for good (as `configure({ recordAges: true })` does, without
 * changing what `configure` reports), so that every wait parked from then on shows its exact age.
 * In the JSON, `Infinity` (e.g. `maxQueue`) is written as the string `"Infinity"`.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { createInspectHandler } from 'unwedge/inspect/http';
 * const debug = createInspectHandler();
 * createServer((req, res) => {
 *   if (req.url?.startsWith('/debug/unwedge')) return debug(req, res);
 *   res.end('hello');
 * }).listen(9464, '127.0.0.1');
 * ```
 */
export function createInspectHandler(): InspectHandler {
  // A handler mounted at start-up is there for the hang to come: from now on, waits record their
  // start so the dump gives exact ages (one clock read per parked wait).
  useTiming();
  return (req, res) => {
    const query = (req.url ?? '').split('?')[1] ?? '';
    const json = new URLSearchParams(query).get('format') === 'json';
    let body: string;
    try {
      const report = inspect();
      body = json ? `${JSON.stringify(report, infinity, 2)}\n` : formatInspect(report);
    } catch (error) {
      // Never a crash in the request listener of the route operators use in a bad hour.
      res.statusCode = 500;
      res.setHeader('content-type', 'text/plain; charset=utf-8');
      res.end(`unwedge: could not take the dump: ${String(error)}\n`);
      return;
    }
    res.statusCode = 200;
    res.setHeader('content-type', json ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8');
    res.setHeader('cache-control', 'no-store');
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}

/** JSON has no Infinity (JSON.stringify writes null): `maxQueue: Infinity` stays readable. */
function infinity(_key: string, value: unknown): unknown {
  return value === Number.POSITIVE_INFINITY ? 'Infinity' : value;
}

/** Stops what {@link dumpOnSignal} started; also a `Disposable`. */
export interface Disposer {
  /** Removes the signal listener. Idempotent. */
  (): void;
  /** Same as calling it, for `using stop = dumpOnSignal()`. */
  [Symbol.dispose](): void;
}

const DUMP_KEYS = ['write'] as const;

/**
 * Writes the dump ({@link formatInspect}) to stderr each time the process receives `signal`
 * (default `SIGUSR2`; `SIGUSR1` is Node's inspector), e.g. `kill -USR2 <pid>`. Listening for a
 * signal does not keep the process alive. Waits parked while it listens record their start, so
 * the dump gives exact ages (see `configure`'s `recordAges`). Returns a function that removes the listener.
 *
 * @example
 * ```ts
 * import { dumpOnSignal } from 'unwedge/inspect/http';
 * const stop = dumpOnSignal(); // then: kill -USR2 <pid>
 * // ... at shutdown:
 * stop();
 * ```
 */
export function dumpOnSignal(
  signal: NodeJS.Signals = 'SIGUSR2',
  options?: { write?: (text: string) => void },
): Disposer {
  if (typeof signal !== 'string')
    throw new TypeError(`signal must be a signal name; received ${check.show(signal)}`);
  const o = check.options<{ write?: (text: string) => void }>(options, DUMP_KEYS);
  const write =
    o.write === undefined
      ? (text: string) => process.stderr.write(text)
      : check.func<(text: string) => void>(o.write, 'options.write');
  const listener = () => {
    try {
      write(formatInspect());
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

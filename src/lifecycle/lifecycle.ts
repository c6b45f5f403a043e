// One bounded, ordered shutdown for a whole service (issue 21). Every primitive here already stops
// within a deadline of its own; a service has many of them plus a server and clients, and its
// SIGTERM handler is where they are tied together, usually by hand and often wrong (an exit that
// never comes, a close that waits on a hung request, a report nobody prints). A Lifecycle stops
// them in the reverse order of registration, as AsyncDisposableStack and Go's defer do, sharing one
// budget, and names what was still running when the budget ran out: it knows what the work in
// flight is, which close-with-grace, terminus and lightship cannot.

import { asyncDisposeSymbol } from '../core/compat.js';
import { ignore, unreachable } from '../core/never.js';
import { failureLine, reportFailure } from '../core/report.js';
import * as check from '../core/validate.js';
import { ClosedError } from '../errors.js';
import type { LifecycleReport } from './report.js';
import { callStep, type Resource, type Step, stepOf } from './resources.js';
import { stopAll } from './run.js';
import { checkSignalsOptions, type HandleSignalsOptions, installSignals } from './signals.js';

/**
 * Options of {@link Lifecycle}.
 *
 * @example
 * ```ts
 * import { Lifecycle, type LifecycleOptions } from 'unwedge';
 * const options: LifecycleOptions = {
 *   name: 'api',
 *   timeout: 25_000, // Kubernetes sends SIGKILL 30 s after SIGTERM
 *   onError: (error, resource) => console.error(`${resource} failed to stop:`, error),
 * };
 * const life = new Lifecycle(options);
 * console.log(life.timeout); // → 25000
 * await life.shutdown();
 * ```
 */
export interface LifecycleOptions {
  /** Shown in the report and in failure messages, e.g. `"api"`. */
  name?: string;
  /**
   * The whole shutdown's budget, in ms: a finite number >= 0, default 10,000. Keep it below the
   * time the platform gives before it kills the process (Kubernetes: `terminationGracePeriodSeconds`,
   * 30 s by default).
   */
  timeout?: number;
  /**
   * Receives each failure of a resource's stop (a throw or rejection) once, with the resource's
   * name. Default: stderr, with the stack.
   */
  onError?: (error: unknown, resource: string) => void;
}

const LIFECYCLE_KEYS = ['name', 'timeout', 'onError'] as const;

/**
 * Options of {@link Lifecycle.use} and {@link Lifecycle.defer}.
 *
 * @example
 * ```ts
 * import { Lifecycle, type UseOptions } from 'unwedge';
 * const life = new Lifecycle();
 * const named: UseOptions = { name: 'redis' };
 * life.use({ close: async () => {} }, named); // e.g. an ioredis client: life.use(redis, named)
 * const report = await life.shutdown();
 * console.log(report.steps[0]!.name); // → redis
 * ```
 */
export interface UseOptions {
  /** How the report names it, instead of e.g. `pool "feeds"` or `defer #2`. */
  name?: string;
}

const USE_KEYS = ['name'] as const;

/**
 * Where a {@link Lifecycle} is: `'running'` until `shutdown()` starts, `'stopped'` once it has reported.
 *
 * @example
 * ```ts
 * import { Lifecycle, type LifecycleState } from 'unwedge';
 * const life = new Lifecycle();
 * const ready = (state: LifecycleState) => (state === 'running' ? 200 : 503); // a /ready route
 * console.log(ready(life.state)); // → 200
 * await life.shutdown();
 * console.log(life.state, ready(life.state)); // → stopped 503
 * ```
 */
export type LifecycleState = 'running' | 'stopping' | 'stopped';

/** The whole shutdown's budget when none is given, in ms. */
const DEFAULT_TIMEOUT = 10_000;

class Shutdown {
  resolve!: (report: LifecycleReport) => void;
  reject!: (error: unknown) => void;
  readonly promise = new Promise<LifecycleReport>((resolve, reject) => {
    this.resolve = resolve;
    this.reject = reject;
  });
}

type State =
  | { readonly tag: 'running' }
  | { readonly tag: 'stopping'; readonly shutdown: Shutdown }
  | { readonly tag: 'stopped'; readonly shutdown: Shutdown };

/**
 * One bounded, ordered shutdown for a whole service. Register what must be stopped with
 * {@link use} (servers, pools, registries, queues, clients) and {@link defer} (any cleanup);
 * {@link shutdown} stops them in the reverse order of registration within one budget, and
 * {@link handleSignals} runs it on SIGTERM and SIGINT and exits. {@link state} is for a readiness
 * probe: `/ready` can answer 503 as soon as the shutdown starts.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { Lifecycle, TaskRegistry, WorkerPool } from 'unwedge';
 * const life = new Lifecycle({ name: 'api', timeout: 25_000 });
 * const pool = life.use(new WorkerPool({ concurrency: 8, name: 'feeds' }));
 * const tasks = life.use(new TaskRegistry({ name: 'bg' }));
 * const server = life.use(
 *   createServer((req, res) => {
 *     if (req.url === '/ready') res.statusCode = life.state === 'running' ? 200 : 503;
 *     res.end();
 *   }),
 * );
 * server.listen(0, '127.0.0.1');
 * tasks.spawn('heartbeat', (signal) => new Promise((stop) => signal.addEventListener('abort', stop)));
 * life.defer(async () => console.log('metrics flushed')); // → metrics flushed
 * life.handleSignals(); // SIGTERM or SIGINT: this same shutdown, then exit (0 when clean)
 * // What a SIGTERM runs: the defer, the server, the tasks, then the pool (reverse order).
 * const report = await life.shutdown();
 * console.log(report.clean, report.steps.length, pool.active); // → true 4 0
 * ```
 */
export class Lifecycle implements AsyncDisposable {
  /** The name given in the options, if any. */
  readonly name: string | undefined;
  // #private and read through a getter: a public field could be set to Infinity at runtime.
  readonly #timeout: number;
  readonly #onError: ((error: unknown, resource: string) => void) | undefined;
  readonly #steps: Step[] = [];
  readonly #used = new WeakSet<object>();
  #defers = 0;
  #state: State = { tag: 'running' };
  #removeSignals: (() => void) | undefined;

  constructor(options?: LifecycleOptions) {
    const o = check.options<LifecycleOptions>(options, LIFECYCLE_KEYS);
    this.name = check.string(o.name, 'options.name');
    this.#timeout =
      o.timeout === undefined ? DEFAULT_TIMEOUT : check.finiteTimeout(o.timeout, 'options.timeout');
    this.#onError =
      o.onError === undefined
        ? undefined
        : check.func<NonNullable<LifecycleOptions['onError']>>(o.onError, 'options.onError');
  }

  /** The budget of the whole shutdown, in ms. */
  get timeout(): number {
    return this.#timeout;
  }

  /** `'running'`, `'stopping'` from the call to `shutdown()`, `'stopped'` once it has reported. */
  get state(): LifecycleState {
    return this.#state.tag;
  }

  /**
   * Registers `resource` to be stopped by {@link shutdown} and returns it. Never waits. A Server is
   * watched from now on (its sockets and requests in flight), so use() it before it listens. Throws
   * a TypeError at once, registering nothing, when `resource` is none of what {@link Resource}
   * lists; `ClosedError` once `shutdown()` was called. Registering the same object again does nothing.
   */
  use<R extends Resource>(resource: R, options?: UseOptions): R {
    const name = check.string(check.options<UseOptions>(options, USE_KEYS).name, 'options.name');
    this.#refuseIfStopping('use');
    if (this.#used.has(resource as object)) return resource;
    this.#steps.push(stepOf(resource, name));
    this.#used.add(resource as object);
    return resource;
  }

  /**
   * Registers `fn` to be called by {@link shutdown} in its turn (the reverse of registration, among
   * the resources), with a signal that aborts when the budget is spent. Its rejection or throw is
   * a failure (reported once, in the report); if it has not settled when the budget and the grace
   * after it are spent, it is abandoned and named. Throws `ClosedError` once `shutdown()` was called.
   */
  defer(fn: (signal: AbortSignal) => unknown, options?: UseOptions): void {
    check.func(fn, 'fn');
    const given = check.string(check.options<UseOptions>(options, USE_KEYS).name, 'options.name');
    this.#refuseIfStopping('defer');
    this.#defers++;
    const name = given ?? (fn.name ? `defer ${JSON.stringify(fn.name)}` : `defer #${this.#defers}`);
    this.#steps.push(callStep(name, fn));
  }

  /**
   * Stops everything registered, in the reverse order of registration, within `timeout` ms in all:
   * each step gets what is left of the budget. A Server stops accepting at once and lets requests
   * in flight finish; pools and queues drain, registries' tasks are aborted and awaited. When the
   * budget is spent, every step not done is forced (sockets destroyed, tasks aborted) and given
   * {@link FORCE_GRACE_MS} to settle; what still runs then is abandoned and named in the report.
   * Resolves within `timeout` + {@link FORCE_GRACE_MS} whatever the resources do; never rejects
   * (a resource's failure is in the report, and reported once). Later calls return the same promise.
   */
  shutdown(): Promise<LifecycleReport> {
    const state = this.#state;
    switch (state.tag) {
      case 'running': {
        const shutdown = new Shutdown();
        this.#state = { tag: 'stopping', shutdown };
        // The first stop starts now; one that calls shutdown() gets this promise.
        const id = {
          name: this.name,
          who: this.#who(),
          report: (step: string, error: unknown) => this.#report(step, error),
        };
        stopAll([...this.#steps].reverse(), this.#timeout, id).then((report) => {
          this.#state = { tag: 'stopped', shutdown };
          this.#removeSignals?.();
          this.#removeSignals = undefined;
          shutdown.resolve(report);
        }, shutdown.reject);
        return shutdown.promise;
      }
      case 'stopping':
      case 'stopped':
        return state.shutdown.promise;
      default:
        return unreachable(state);
    }
  }

  /** Calls `shutdown()`, for `await using life = new Lifecycle()`; the report is dropped. */
  [asyncDisposeSymbol](): Promise<void> {
    return this.shutdown().then(ignore);
  }

  /**
   * On the first of `signals` (default SIGTERM and SIGINT), runs {@link shutdown}, writes the
   * report to stderr when it is not clean, and exits with code 0 (clean) or 1; a second signal
   * during the shutdown exits at once with 128 + its number (130 for SIGINT, 143 for SIGTERM).
   * The listeners do not keep the process alive, and are removed once the shutdown has reported,
   * however it was started. Calling it again replaces them. Returns a function that removes them.
   * Throws `ClosedError` once `shutdown()` was called.
   */
  handleSignals(options?: HandleSignalsOptions): () => void {
    const config = checkSignalsOptions(options);
    this.#refuseIfStopping('handleSignals');
    this.#removeSignals?.();
    const remove = installSignals(() => this.shutdown(), config, this.#who());
    this.#removeSignals = remove;
    return remove;
  }

  #refuseIfStopping(call: string): void {
    if (this.#state.tag === 'running') return;
    throw new ClosedError(`${this.#who()} is ${this.#state.tag}: cannot ${call}()`);
  }

  /** A resource's stop failed: told once, to `onError` or stderr (also after the report). */
  #report(resource: string, error: unknown): void {
    const onError = this.#onError;
    reportFailure(
      { kind: 'lifecycle', name: this.name, task: resource, who: this.#who() },
      error,
      onError === undefined ? undefined : () => onError(error, resource),
      () => failureLine(`${this.#who()}: stopping ${resource} failed`, error),
    );
  }

  #who(): string {
    return this.name === undefined ? 'lifecycle' : `lifecycle ${JSON.stringify(this.name)}`;
  }
}

export type { Resource } from './resources.js';

// One RedisSemaphore instance as Redis sees it: the ids its calls go by, the script call (EVALSHA,
// and EVAL once when Redis does not have it), the releases and departures batched onto the next
// command, and the subscriber connection its grants are announced on.
import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { ignore } from '../core/never.js';
import { failureLine, reportFailure } from '../core/report.js';
import { UnwedgeError } from '../errors.js';
import { keysOf, LUA, SHA } from './scripts.js';
import type { RedisClient as Client } from './types.js';

/** What every script call answers (scripts.ts): used, queued, a hint, then what the op returns. */
export type Reply = [used: number, queued: number, hint: number, ...rest: Array<number | string>];

/** What the parts of one RedisSemaphore share: its names, its limits, where failures go. */
export interface Spec {
  readonly key: string;
  readonly name: string | undefined;
  /** `semaphore "<name or key>"`: how every message names it. */
  readonly who: string;
  readonly permits: number;
  readonly leaseMs: number;
  /** `leaseMs / 3`: how often the loop ticks, and how long a one-off attempt waits for Redis. */
  readonly period: number;
  /**
   * How long Redis holds a queued waiter's grant for its instance to claim it, `min(period, 1000)`
   * ms; the loop ticks this often while callers wait, so that a grant whose wake-up message is
   * lost is still claimed in time. It bounds what a dead or stopped instance's waiters take from
   * the others (scripts.ts). A claim is one round trip after the wake-up message; a second covers
   * an event loop lagging by hundreds of ms, and a claim that misses it costs only the waiter's
   * place in line.
   */
  readonly claimMs: number;
  /**
   * How long after the command that granted or refreshed a lease was sent this instance trusts it:
   * `leaseMs` less 1 % + 2 ms for clock drift and Redis's whole-ms clock. Past it, the permit is lost.
   */
  readonly trustMs: number;
  readonly onError: ((error: unknown) => void) | undefined;
}

/** The subscriber connection and the listeners it was given (removed when it is stopped). */
interface Subscriber {
  readonly connection: Redis;
  readonly onMessage: (channel: string, id: string) => void;
  readonly onReady: () => void;
}

/** One instance's side of the semaphore in Redis: every command it sends goes through {@link call}. */
export class Link {
  /** What Redis last said, across every instance: permits in use, waiters queued. */
  readonly seen = { used: 0, queued: 0 };
  readonly #client: Client;
  readonly #spec: Spec;
  readonly #keys: [string, string, string, string];
  readonly #wakePrefix: string;
  readonly #instance = randomBytes(8).toString('hex');
  readonly #channel: string;
  #sequence = 0;
  /** Ids to take out of Redis (released, timed out, aborted), sent with the next command. */
  #drops: string[] = [];
  #subscriber: Subscriber | undefined = undefined;

  /** Calls nothing on `client`: a semaphore that is never used never talks to Redis. */
  constructor(client: Client, spec: Spec) {
    this.#client = client;
    this.#spec = spec;
    const { keys, wake } = keysOf(spec.key);
    this.#keys = keys;
    this.#wakePrefix = wake;
    this.#channel = wake + this.#instance;
  }

  /** The client's connection status (`'end'` once it has ended for good). */
  get status(): string {
    return this.#client.status;
  }

  /** `<instance>:<sequence>:<weight>`: the script reads the weight and the wake channel from it. */
  nextId(weight: number): string {
    return `${this.#instance}:${++this.#sequence}:${weight}`;
  }

  /** Calls `listener` when the client ends (until {@link offEnd}). */
  onEnd(listener: () => void): void {
    this.#client.on('end', listener);
  }

  offEnd(listener: () => void): void {
    this.#client.off('end', listener);
  }

  /** Keeps what a reply says about the whole semaphore, for diagnostics and timeout messages. */
  observe(reply: Reply): void {
    this.seen.used = reply[0];
    this.seen.queued = reply[1];
  }

  // --- the script ------------------------------------------------------------------------------

  /**
   * Runs the script: EVALSHA, and EVAL once when Redis does not have it (first use, restart).
   * Every pending drop goes first, in the same command; if that command fails, the failure is
   * reported (onError, else stderr), since nobody awaits a release.
   */
  call(args: Array<string | number>): Promise<Reply> {
    const client = this.#client;
    const keys = this.#keys;
    const drops = this.#drops;
    if (drops.length > 0) this.#drops = [];
    const { permits, leaseMs, claimMs } = this.#spec;
    const argv = [
      keys[0],
      keys[1],
      keys[2],
      keys[3],
      args[0]!,
      permits,
      leaseMs,
      claimMs,
      this.#wakePrefix,
      drops.length,
    ];
    for (const id of drops) argv.push(id);
    for (let i = 1; i < args.length; i++) argv.push(args[i]!);
    // Both kinds of client take the same script call; a Cluster sends it to the node owning the slot.
    const redis = client as Redis;
    const reply = redis.evalsha(SHA, 4, ...argv).catch((error: unknown) => {
      if (isReplyError(error) && String((error as Error).message).startsWith('NOSCRIPT')) {
        return redis.eval(LUA, 4, ...argv);
      }
      throw error;
    }) as Promise<Reply>;
    if (drops.length > 0) reply.then(undefined, (error: unknown) => this.#dropsFailed(drops, error));
    return reply;
  }

  #dropsFailed(drops: string[], error: unknown): void {
    const { who, name, onError } = this.#spec;
    const failure = redisError(who, `releasing ${drops.join(', ')}`, error);
    reportFailure(
      { kind: 'redis', name, task: undefined, who },
      failure,
      onError === undefined ? undefined : () => onError(failure),
      () => failureLine(who, failure),
    );
  }

  /**
   * Takes `id` out of the holders or out of the line, best effort (a lapse does it otherwise).
   * Sent at the end of the current tick, or sooner with any command this instance sends meanwhile
   * (the next acquire of a loop, another release): a release then costs no round trip of its own,
   * and since every command carries all pending drops, none is overtaken by a later call.
   */
  drop(id: string): void {
    if (this.#client.status === 'end') return;
    this.#drops.push(id);
    if (this.#drops.length === 1) process.nextTick(this.flush);
  }

  /** Sends the pending drops now, if any. */
  readonly flush = (): void => {
    if (this.#drops.length > 0) this.call(['drop']).then(undefined, ignore); // failures: reported in call()
  };

  /** The client has ended: nothing pending can be sent any more. */
  forgetDrops(): void {
    this.#drops = [];
  }

  // --- pub/sub ---------------------------------------------------------------------------------

  /**
   * Subscribes this instance's wake channel on a second connection, once (again only after
   * {@link unlisten}): each message is the id of a grant. `onReady` runs once subscribed and after
   * every reconnect, to poll for grants announced meanwhile. Nothing once the client has ended.
   */
  listen(onMessage: (channel: string, id: string) => void, onReady: () => void): void {
    if (this.#subscriber !== undefined || this.#client.status === 'end') return;
    const connection = subscriberFor(this.#client);
    if (connection === undefined) return; // no node known yet: the poll serves; tried again at the next wait
    this.#subscriber = { connection, onMessage, onReady };
    // Connection errors are the client's to report; the poll covers wake-ups missed meanwhile.
    connection.on('error', ignore);
    connection.on('message', onMessage);
    connection.on('ready', onReady);
    connection.subscribe(this.#channel).then(
      () => onReady(),
      () => {
        if (this.#subscriber?.connection === connection) void this.unlisten(); // try again at the next wait
      },
    );
  }

  /** Stops the subscriber connection; resolves when it has ended (at most 1 s). */
  unlisten(): Promise<void> {
    const subscriber = this.#subscriber;
    this.#subscriber = undefined;
    if (subscriber === undefined) return Promise.resolve();
    const { connection } = subscriber;
    connection.off('message', subscriber.onMessage);
    connection.off('ready', subscriber.onReady);
    switch (connection.status) {
      case 'end':
        return Promise.resolve();
      case 'reconnecting':
        // No socket to wait for; ioredis emits no 'end' when stopped between reconnections.
        connection.disconnect();
        return Promise.resolve();
      default:
        return new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 1_000);
          connection.once('end', () => {
            clearTimeout(timer);
            resolve();
          });
          connection.disconnect();
        });
    }
  }
}

/**
 * A new connection for the wake-up messages. A short disconnectTimeout: ioredis arms it on every
 * disconnect and clears it only when the socket closes, which a socket closed before
 * (mid-reconnect, failed ready check) never does. For a Cluster, a plain connection to one of its
 * masters: Redis Cluster broadcasts a PUBLISH (the script's, on the node owning the slot) to every
 * node, so any node hears every wake-up (if that node goes away, the poll serves the waiters until
 * it is back); and a plain connection ends once its socket has closed, as close() promises, where a
 * Cluster's own duplicate says it has ended while its sockets still close.
 */
function subscriberFor(client: Client): Redis | undefined {
  if (!client.isCluster) return (client as Redis).duplicate({ disconnectTimeout: 100 });
  const [node] = (client as Cluster).nodes('master');
  return node?.duplicate({ disconnectTimeout: 100 });
}

/** A failure Redis answered with (or a lost connection), naming the semaphore and the call. */
export function redisError(who: string, what: string, cause: unknown): UnwedgeError {
  return new UnwedgeError(`${who}: Redis failed ${what}: ${String(cause)}`, { cause });
}

/** An error Redis itself answered with: asking again will not fix it (a lost connection may). */
export function isReplyError(error: unknown): boolean {
  return (error as Error | undefined)?.name === 'ReplyError';
}

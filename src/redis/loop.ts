// The life of one RedisSemaphore instance and its refresh-and-poll loop. One timer and at most one
// command in flight per instance, however many permits it holds and callers it has waiting: each
// tick refreshes every held lease, heartbeats every waiter (and re-queues one Redis no longer
// knows, e.g. after a restart) and collects grants whose pub/sub message was missed. Every callback
// here starts with leases.expire(): after a pause of the process, the first of them to run tells
// the holders whose leases have lapsed, before it hands anything out.

import { ignore, unreachable } from '../core/never.js';
import { now as clock } from '../core/track.js';
import { ClosedError } from '../errors.js';
import type { Link, Reply, Spec } from './client.js';
import { type Leases, leaseLost } from './leases.js';
import type { Line } from './line.js';

/**
 * Where an instance is. Every change of tag is made in the first section of {@link Loop}:
 *
 *   idle ──start()──▶ active ──#stop(): nothing held or waited for, or the client ended──▶ idle
 *   idle, active ──close()──▶ closed
 *
 * `inFlight` is when the tick in flight was sent, and `again` asks for another tick as soon as it
 * answers. Both outlive a stop: the reply of a tick still arrives after one, and a loop started
 * again waits for it rather than send a second command beside it. `timer` fires at `due`
 * (performance.now()).
 */
type Life =
  | { tag: 'idle'; inFlight: number | undefined; again: boolean }
  | {
      tag: 'active';
      timer: ReturnType<typeof setTimeout>;
      due: number;
      inFlight: number | undefined;
      again: boolean;
    }
  | { tag: 'closed'; closing: Promise<void> };

type Active = Extract<Life, { tag: 'active' }>;

/** Keeps the leases and the waiters of one instance alive in Redis, and hears their grants. */
export class Loop {
  #life: Life = { tag: 'idle', inFlight: undefined, again: false };
  readonly #link: Link;
  readonly #line: Line;
  readonly #leases: Leases;
  readonly #spec: Spec;

  constructor(link: Link, line: Line, leases: Leases, spec: Spec) {
    this.#link = link;
    this.#line = line;
    this.#leases = leases;
    this.#spec = spec;
  }

  get closed(): boolean {
    return this.#life.tag === 'closed';
  }

  /** Why a call cannot be served now (closed, or the client has ended); `undefined` when it can. */
  refusal(): ClosedError | undefined {
    const { who } = this.#spec;
    if (this.#life.tag === 'closed') return new ClosedError(`${who} is closed`);
    if (this.#link.status !== 'end') return undefined;
    return new ClosedError(`${who} cannot be served: its Redis client has ended`);
  }

  // --- the life: every transition ----------------------------------------------------------------

  /**
   * Starts the loop, if it is idle: something is held or waited for now. If callers wait, the
   * next tick is at most a claim window away.
   */
  start(): void {
    const life = this.#life;
    switch (life.tag) {
      case 'idle': {
        this.#link.onEnd(this.#onClientEnd);
        const interval = this.#interval();
        const { inFlight, again } = life;
        this.#life = {
          tag: 'active',
          timer: arm(this.#tick, interval),
          due: clock() + interval,
          inFlight,
          again,
        };
        return;
      }
      case 'active': {
        const { claimMs } = this.#spec;
        if (this.#line.length > 0 && life.due > clock() + claimMs) this.#schedule(life, claimMs);
        return;
      }
      case 'closed':
        return;
      default:
        unreachable(life);
    }
  }

  /** Stops the loop, if it is running. */
  #stop(): void {
    const life = this.#life;
    switch (life.tag) {
      case 'active':
        this.#link.offEnd(this.#onClientEnd);
        clearTimeout(life.timer);
        this.#life = { tag: 'idle', inFlight: life.inFlight, again: life.again };
        return;
      case 'idle':
      case 'closed':
        return;
      default:
        unreachable(life);
    }
  }

  /**
   * Closes the instance, as RedisSemaphore.close says. Closed before anyone is told, so that a
   * holder's abort listener that calls acquire() is refused. Idempotent: returns the same promise.
   */
  close(): Promise<void> {
    const life = this.#life;
    switch (life.tag) {
      case 'closed':
        return life.closing;
      case 'active':
        this.#stop();
        break;
      case 'idle':
        break;
      default:
        return unreachable(life);
    }
    const closing = this.#link.unlisten();
    this.#life = { tag: 'closed', closing };
    const { who, leaseMs } = this.#spec;
    this.#line.failAll(() => new ClosedError(`${who} was closed while waiting for a permit`));
    this.#leases.loseAll(
      () =>
        new ClosedError(`${who} was closed: the permit is no longer refreshed and lapses in ${leaseMs} ms`),
    );
    this.#link.flush(); // releases made before close() are sent before it resolves
    return closing;
  }

  /** Listened to while active: the client has ended, so nothing here can be served any more. */
  readonly #onClientEnd = (): void => {
    this.#stop();
    const { who } = this.#spec;
    this.#line.failAll(() => new ClosedError(`${who} cannot be served: its Redis client has ended`));
    this.#link.forgetDrops();
    this.#leases.loseAll(() => leaseLost(who, 'its Redis client has ended'));
    void this.#link.unlisten();
  };

  /**
   * Stops the loop once nothing is held or waited for. Called from the loop itself, not on every
   * release: a semaphore used in a tight loop keeps one timer rather than arming one per permit.
   */
  #settleDown(): void {
    if (this.#leases.size === 0 && this.#line.length === 0) this.#stop();
  }

  // --- pub/sub: the grants that do not wait for a tick ---------------------------------------------

  /** Hears grants by pub/sub from now on, unless closed: the poll is then only the fallback. */
  listen(): void {
    if (this.#life.tag !== 'closed') this.#link.listen(this.#onMessage, this.recheck);
  }

  /**
   * A wake-up: Redis granted waiter `id`, but when? This process may have been stopped since, and
   * the lease runs from the grant. Claim it: Redis refreshes the grant if it still stands, and the
   * claim's send time bounds the lease; if it lapsed, a tick at once puts the waiter back in line.
   * One more round trip per woken waiter, so that no permit is handed over dead.
   */
  readonly #onMessage = (_channel: string, id: string): void => {
    this.#leases.expire();
    if (!this.#line.has(id)) return;
    const sentAt = clock();
    this.#link.call(['claim', id]).then((reply) => {
      this.#leases.expire();
      this.#link.observe(reply);
      if (reply[3] === 0 || !this.#grant(reply, sentAt)) this.recheck();
    }, ignore); // the next tick names the waiter again
  };

  /**
   * Runs a tick as soon as the one in flight (if any) has answered: once subscribed, and after the
   * subscriber reconnects (maybe to a restarted Redis that forgot the line), to re-queue at once;
   * and when a grant came too late to be trusted, to ask Redis again.
   */
  readonly recheck = (): void => {
    this.#leases.expire();
    const life = this.#life;
    if (life.tag !== 'active') return;
    if (life.inFlight === undefined) this.#schedule(life, 0);
    else life.again = true;
  };

  // --- the loop ----------------------------------------------------------------------------------

  /**
   * How long until the next tick: `period` for leases, but `claimMs` while callers wait, so that
   * a grant is claimed within its claim window even when its wake-up message is lost, and a
   * grant left unclaimed by a stopped instance is seen to lapse within about one window.
   */
  #interval(): number {
    return this.#line.length > 0 ? this.#spec.claimMs : this.#spec.period;
  }

  #schedule(life: Active, ms: number): void {
    clearTimeout(life.timer);
    life.timer = arm(this.#tick, ms);
    life.due = clock() + ms;
  }

  /**
   * Someone's lease, grant or heartbeat lapses `hint` ms from now, before the next regular tick:
   * look again just after it, so that permits of a dead instance reach the line as soon as they
   * lapse, not up to a tick later. Only for waiters; never sooner than 10 ms apart.
   */
  #lookAfter(life: Active, hint: number): void {
    if (hint < 0 || this.#line.length === 0 || hint >= this.#interval()) return;
    const ms = Math.max(hint + 2, 10);
    if (life.due > clock() + ms) this.#schedule(life, ms);
  }

  readonly #tick = (): void => {
    const now = clock();
    this.#leases.expire(now);
    this.#settleDown();
    const life = this.#life;
    if (life.tag !== 'active') return;
    this.#schedule(life, this.#interval());
    if (life.inFlight !== undefined) {
      // A tick is sent only once the last has answered. If that has taken a whole period, any
      // lease may lapse before the connection (where refreshes queue behind it) says more: tell
      // every holder now. (2 ms: a timer can fire a ms early by this clock.)
      const waited = Math.round(now - life.inFlight);
      if (waited < this.#spec.period - 2) return;
      this.#leases.loseAll(() =>
        leaseLost(this.#spec.who, `Redis did not answer a refresh within ${waited} ms`),
      );
      this.#settleDown();
      return;
    }
    const heldIds = this.#leases.ids();
    const args: Array<string | number> = ['tick', heldIds.length, ...heldIds];
    this.#line.appendIds(args);
    life.inFlight = now;
    this.#link.call(args).then(
      (reply) => this.#onTick(reply, heldIds, now),
      (error: unknown) => {
        this.#leases.expire();
        this.#answered();
        const reason = () => leaseLost(this.#spec.who, String(error), error);
        for (const id of heldIds) this.#leases.lose(id, reason);
        this.#afterTick(-1);
      },
    );
  };

  /** The tick in flight has answered: another may be sent. */
  #answered(): void {
    const life = this.#life;
    if (life.tag !== 'closed') life.inFlight = undefined;
  }

  #onTick(reply: Reply, heldIds: string[], sentAt: number): void {
    this.#leases.expire();
    this.#answered();
    this.#link.observe(reply);
    const lost = new Set(reply.slice(4 + 2 * (reply[3] as number)) as string[]);
    const { who, leaseMs } = this.#spec;
    const expired = () => leaseLost(who, `the lease was found expired (leaseMs ${leaseMs})`);
    for (const id of heldIds) {
      if (lost.has(id)) this.#leases.lose(id, expired);
      else this.#leases.confirm(id, sentAt);
    }
    if (!this.#grant(reply, sentAt) && this.#life.tag !== 'closed') this.#life.again = true;
    this.#afterTick(reply[2]);
  }

  /** Hands out the grants of a tick's or a claim's reply; `false` if one came too late to be trusted. */
  #grant(reply: Reply, sentAt: number): boolean {
    const end = 4 + 2 * (reply[3] as number);
    let trusted = true;
    for (let i = 4; i < end; i += 2) {
      if (!this.#line.grant(reply[i] as string, sentAt, reply[i + 1] as number)) trusted = false;
    }
    return trusted;
  }

  #afterTick(hint: number): void {
    this.#settleDown();
    const life = this.#life;
    if (life.tag !== 'active') return;
    if (life.again) {
      life.again = false;
      this.#schedule(life, 0);
    } else {
      this.#lookAfter(life, hint);
    }
  }
}

/** Unref'd: the client's own connection keeps a process alive while it is open, not this timer. */
function arm(tick: () => void, ms: number): ReturnType<typeof setTimeout> {
  const timer = setTimeout(tick, ms);
  timer.unref();
  return timer;
}

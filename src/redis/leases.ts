// The permits one RedisSemaphore instance holds. Each is a lease in Redis that the loop (loop.ts)
// refreshes; a lease found lost aborts its permit's signal, and only release() gives it back.
import { publishLeaseLost } from '../core/channels.js';
import { disposeSymbol } from '../core/compat.js';
import type { Permit } from '../semaphore/semaphore.js';
import type { Link } from './client.js';

// Permits are returned only through a permit, never through a public method that could over-release.
let releaseLease: (leases: Leases, permit: LeasedPermit) => void;

/** A held permit: a `RedisPermit` (semaphore.ts). */
class LeasedPermit implements Permit {
  released = false;
  readonly #leases: Leases;
  // Created on first use: most permits are released without anyone reading their signal.
  #controller: AbortController | undefined = undefined;
  constructor(
    leases: Leases,
    readonly id: string,
    readonly weight: number,
    /** When the last command that granted or refreshed the lease was sent (performance.now()). */
    public confirmedAt: number,
  ) {
    this.#leases = leases;
  }

  get signal(): AbortSignal {
    this.#controller ??= new AbortController();
    return this.#controller.signal;
  }

  abort(reason: Error): void {
    this.#controller ??= new AbortController();
    this.#controller.abort(reason);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    releaseLease(this.#leases, this);
  }

  [disposeSymbol](): void {
    this.release();
  }
}

/** The leases of one instance, by id. */
export class Leases {
  readonly #byId = new Map<string, LeasedPermit>();
  #weight = 0;
  readonly #link: Link;
  /** How `unwedge:lease:lost` names the semaphore. */
  readonly #name: string;

  constructor(link: Link, name: string) {
    this.#link = link;
    this.#name = name;
  }

  /** How many leases are held. */
  get size(): number {
    return this.#byId.size;
  }

  /** How many permits they hold. */
  get held(): number {
    return this.#weight;
  }

  /** The ids of the leases held now. */
  ids(): string[] {
    return [...this.#byId.keys()];
  }

  /** Holds the `weight` permits Redis granted as `id`, by a command sent at `confirmedAt`. */
  take(id: string, weight: number, confirmedAt: number): LeasedPermit {
    const permit = new LeasedPermit(this, id, weight, confirmedAt);
    this.#byId.set(id, permit);
    this.#weight += weight;
    return permit;
  }

  /** Lease `id`, if still held, was refreshed by a command sent at `at`. */
  confirm(id: string, at: number): void {
    const permit = this.#byId.get(id);
    if (permit !== undefined) permit.confirmedAt = at;
  }

  /** Lease `id`, if still held, is gone: tell its holder. Its release() still tells Redis. */
  lose(id: string, reason: () => Error): void {
    const permit = this.#byId.get(id);
    if (permit === undefined) return;
    this.#byId.delete(id);
    this.#weight -= permit.weight;
    const error = reason();
    publishLeaseLost(this.#name, error);
    permit.abort(error);
  }

  loseAll(reason: () => Error): void {
    for (const id of this.ids()) this.lose(id, reason);
  }

  /** A released permit is no longer refreshed here (unless it was lost), and leaves Redis too. */
  #release(permit: LeasedPermit): void {
    if (this.#byId.get(permit.id) === permit) {
      this.#byId.delete(permit.id);
      this.#weight -= permit.weight;
    }
    this.#link.drop(permit.id);
  }

  static {
    releaseLease = (leases, permit) => leases.#release(permit);
  }
}

// One abort listener per signal, however many waits share it. The usual signal is shared: one
// request's or one shutdown's AbortController passed to every wait. Node's EventTarget scans its
// listeners on every add and every remove, so N waits on one signal cost O(N^2): parking 20,000
// Semaphore.acquire({ signal }) took 2.4 s on Node 20 (p-queue: aborting 100,000 took 39 s, the
// event loop frozen throughout), and the 11th listener printed MaxListenersExceededWarning into
// the user's logs. Here each signal gets one listener, and each wait a node of a list that is
// joined and left in O(1) and run in order when the signal aborts.

/**
 * The options of the abort listener added here. Frozen and without a prototype: a literal
 * `{ once: true }` inherits a `signal` set on `Object.prototype` (prototype pollution), which
 * `addEventListener` reads, and an aborted one there made every listener silently not be added.
 */
const ONCE: { readonly once: true } = Object.freeze(Object.assign(Object.create(null), { once: true }));

/**
 * Where a signal's list is found: a symbol-keyed property of the signal itself. A WeakMap from
 * signal to list made parking a wait with a signal of its own 1.65x as costly on Node 24 (3.3 against
 * 2.0 us, 100,000 Semaphore.acquire, each with its own signal); the property costs nothing
 * measurable. A signal that takes no property (non-extensible) gets a list per wait: the old cost,
 * still correct. The list is the listener itself (`handleEvent`): a closure per signal cost 1.2 us.
 */
const LIST = Symbol('unwedge.abortListeners');
type Marked = AbortSignal & { [LIST]?: Listeners | undefined };

/** One wait's place among the listeners of its signal: pass it to {@link offAbort} to leave. */
export class AbortHook {
  prev: AbortHook | undefined = undefined;
  next: AbortHook | undefined = undefined;
  /** The list it is in; `undefined` once it has run or left. */
  list: Listeners | undefined = undefined;
  constructor(readonly fn: () => void) {}
}

/** The hooks of one signal, and the one listener that runs them. */
class Listeners {
  head: AbortHook | undefined = undefined;
  tail: AbortHook | undefined = undefined;
  constructor(readonly signal: Marked) {}

  /** Runs each hook once, oldest first; a hook that leaves before its turn does not run (as in EventTarget). */
  handleEvent(): void {
    if (this.signal[LIST] === this) this.signal[LIST] = undefined;
    for (let hook = this.head; hook !== undefined; hook = this.head) {
      unlink(hook);
      hook.fn();
    }
  }
}

/**
 * Calls `fn` once when `signal` aborts, as `addEventListener('abort', fn, { once: true })` does,
 * in the order hooks were added. Returns the hook to pass to {@link offAbort}, or `undefined` when
 * `signal` has already aborted (its abort has been dispatched: `fn` would never run).
 */
export function onAbort(signal: AbortSignal, fn: () => void): AbortHook | undefined {
  if (signal.aborted) return undefined;
  const marked = signal as Marked;
  let list = marked[LIST];
  if (list === undefined) {
    list = new Listeners(marked);
    try {
      marked[LIST] = list;
    } catch {} // a non-extensible signal: this list serves this wait alone
    signal.addEventListener('abort', list, ONCE);
  }
  const hook = new AbortHook(fn);
  hook.list = list;
  hook.prev = list.tail;
  if (list.tail === undefined) list.head = hook;
  else list.tail.next = hook;
  list.tail = hook;
  return hook;
}

/**
 * Removes `hook` (if it has not run), in O(1). The signal's listener goes with its last hook, so
 * that a long-lived signal keeps nothing of the waits that used it.
 */
export function offAbort(hook: AbortHook | undefined): void {
  const list = hook?.list;
  if (list === undefined) return;
  unlink(hook!);
  if (list.head !== undefined) return;
  const signal = list.signal;
  if (signal[LIST] === list) signal[LIST] = undefined;
  signal.removeEventListener('abort', list);
}

function unlink(hook: AbortHook): void {
  const list = hook.list!;
  if (hook.prev === undefined) list.head = hook.next;
  else hook.prev.next = hook.next;
  if (hook.next === undefined) list.tail = hook.prev;
  else hook.next.prev = hook.prev;
  hook.prev = undefined;
  hook.next = undefined;
  hook.list = undefined;
}

/**
 * Whether `error`, thrown by work whose signal was aborted with `reason`, is that abort coming
 * back rather than a failure: the reason itself, an error whose `cause` chain holds it (a wrapper,
 * Node's `AbortError` from `timers/promises`), or any `AbortError`. The pool, the registry and
 * the queue consumer all ask this, so that an aborted task is never reported as failed.
 */
export function isAbortOf(error: unknown, reason: unknown): boolean {
  let e = error;
  for (let depth = 0; depth < 16 && e !== null && e !== undefined; depth++) {
    if (e === reason) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return (error as { name?: unknown } | null | undefined)?.name === 'AbortError';
}

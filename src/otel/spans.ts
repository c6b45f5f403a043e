// The spans: one per parked wait (`unwedge semaphore.acquire`, …) and one per task run (`unwedge
// pool.task`, …), started in the caller's context (so each is a child of the caller's span, also
// for a run that waited in line) and ended when the wait or run ends, with how it ended.
import { AsyncLocalStorage } from 'node:async_hooks';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import {
  type Attributes,
  type Context,
  context,
  type Span,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { type RunTrace, runTrace, type WaitTrace, waitTrace } from '../core/channels.js';
import { operationOf } from './attributes.js';

const RUN_SPANS: Record<string, string> = {
  pool: 'unwedge pool.task',
  registry: 'unwedge registry.task',
  consumer: 'unwedge consumer.handler',
};
const CALLS = new Set(['withTimeout', 'fanOut']);

// Which instrument() handle has bound the context manager's store to `unwedge:run`'s start: one
// store takes one transform, so a second handle falls back to plain spans (see bindRunContext).
let storeOwner: object | undefined;

/** Starts and ends spans from `unwedge:wait` and `unwedge:run` on `tracer`; returns the stop. */
export function traceSpans(tracer: Tracer): () => void {
  const spans = new WeakMap<object, Span>();

  const onWaitStart = (message: unknown) => {
    const w = message as WaitTrace;
    // A withTimeout call's `what` is its own name: the span is named after the kind alone.
    const op = CALLS.has(w.kind) ? undefined : operationOf(w.what);
    const attributes: Attributes = { 'unwedge.kind': w.kind, 'unwedge.what': w.what };
    if (w.name !== undefined) attributes['unwedge.name'] = w.name;
    if (op !== undefined) attributes['unwedge.operation'] = op;
    if (w.timeout !== undefined) attributes['unwedge.timeout'] = w.timeout;
    const name = op === undefined ? `unwedge ${w.kind}` : `unwedge ${w.kind}.${op}`;
    spans.set(w, tracer.startSpan(name, { attributes }, context.active()));
  };
  const onWaitEnd = (message: unknown) => {
    const w = message as WaitTrace;
    const span = spans.get(w);
    if (span === undefined) return; // it parked before this handle subscribed
    spans.delete(w);
    span.setAttribute('unwedge.outcome', w.outcome!);
    if (w.outcome !== 'granted') fail(span, w.error, w.outcome!);
    span.end();
  };

  const startRun = (r: RunTrace, parent: Context): Span => {
    const attributes: Attributes = { 'unwedge.kind': r.kind };
    if (r.name !== undefined) attributes['unwedge.name'] = r.name;
    if (r.kind === 'registry' && typeof r.task === 'string') attributes['unwedge.task.name'] = r.task;
    const span = tracer.startSpan(RUN_SPANS[r.kind] ?? `unwedge ${r.kind}.run`, { attributes }, parent);
    spans.set(r, span);
    return span;
  };
  const onRunStart = (message: unknown) => {
    startRun(message as RunTrace, context.active());
  };
  const onRunEnd = (message: unknown) => {
    const r = message as RunTrace;
    const span = spans.get(r);
    if (span === undefined) return;
    spans.delete(r);
    span.setAttribute('unwedge.outcome', r.outcome!);
    span.setAttribute('unwedge.abandoned', r.abandoned);
    if (r.outcome !== 'ok') fail(span, r.error, r.outcome!);
    span.end();
  };

  const subscriptions: Array<[string, (message: unknown, name: string | symbol) => void]> = [
    [waitTrace.start.name as string, onWaitStart],
    [waitTrace.asyncEnd.name as string, onWaitEnd],
    [runTrace.asyncEnd.name as string, onRunEnd],
  ];
  const unbind = bindRunContext((message) => {
    const parent = context.active();
    return trace.setSpan(parent, startRun(message as RunTrace, parent));
  });
  if (unbind === undefined) subscriptions.push([runTrace.start.name as string, onRunStart]);
  for (const [name, fn] of subscriptions) subscribe(name, fn);
  return () => {
    for (const [name, fn] of subscriptions) unsubscribe(name, fn);
    unbind?.();
  };
}

function fail(span: Span, error: unknown, outcome: string): void {
  if (error instanceof Error) span.recordException(error);
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: error instanceof Error ? `${error.name}: ${error.message}` : outcome,
  });
}

/**
 * Makes each run's span the active context inside its task (so spans the task starts are its
 * children), by binding the context manager's AsyncLocalStorage to `unwedge:run`'s start: the core
 * calls each task through `runStores`, which sets a bound store for the call, to what `transform`
 * returns (called in the caller's context). OpenTelemetry exposes no public way to set a context
 * for a call made by someone else, so this reads two non-public fields: the API's context manager
 * (`_getContextManager()`) and, only when it is @opentelemetry/context-async-hooks'
 * `AsyncLocalStorageContextManager`, its `_asyncLocalStorage`, checked to be an AsyncLocalStorage.
 * With any other manager, or a second handle (a store takes one transform), it binds nothing and
 * returns `undefined`: the run's span is then started on `start` and still parents to the caller,
 * but the task's own spans parent to the caller's too.
 */
function bindRunContext(transform: (message: unknown) => Context): (() => void) | undefined {
  if (storeOwner !== undefined) return undefined;
  const api = context as unknown as { _getContextManager?: () => unknown };
  const manager = typeof api._getContextManager === 'function' ? api._getContextManager() : undefined;
  if (manager?.constructor?.name !== 'AsyncLocalStorageContextManager') return undefined;
  const store = (manager as { _asyncLocalStorage?: unknown })._asyncLocalStorage;
  if (!(store instanceof AsyncLocalStorage)) return undefined;
  const owner = {};
  storeOwner = owner;
  runTrace.start.bindStore(store, transform);
  return () => {
    runTrace.start.unbindStore(store);
    if (storeOwner === owner) storeOwner = undefined;
  };
}

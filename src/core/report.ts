// Failures nobody awaits any more: a task that fails after its caller was answered, a consumer's
// handler, a background task, a release Redis did not take. Each is told exactly once, here, the
// same way for every primitive (it was four copies that differed on a throwing hook: two lost the
// original error).
import { inspect } from 'node:util';
import { publishTaskError } from './channels.js';

/** Who failed, for `unwedge:task:error` and for messages. */
export interface FailureSource {
  /** `pool`, `queue`, `registry`, `redis`. */
  readonly kind: string;
  /** The primitive's name, if it has one. */
  readonly name: string | undefined;
  /** The task or item that failed, if there is one to name. */
  readonly task: unknown;
  /** How messages name the primitive, e.g. `pool "feeds"`. */
  readonly who: string;
}

/**
 * Reports `error` once: publishes it on `unwedge:task:error`, then calls `hook` (the primitive's
 * `onError`, given the error in whatever form it takes) or, without a hook, writes `text()` to
 * stderr. A hook that throws loses neither error: `text()` and the hook's error go to stderr.
 */
export function reportFailure(
  source: FailureSource,
  error: unknown,
  hook: (() => void) | undefined,
  text: () => string,
): void {
  publishTaskError(source.kind, source.name, source.task, error);
  if (hook === undefined) {
    process.stderr.write(text());
    return;
  }
  try {
    hook();
  } catch (thrown) {
    process.stderr.write(
      `${text()}unwedge: ${source.who}'s onError threw while reporting it:\n${inspect(thrown)}\n`,
    );
  }
}

/** The stderr line for an error nobody else receives: `unwedge: <what>: <error with its stack>`. */
export function failureLine(what: string, error: unknown): string {
  return `unwedge: ${what}: ${inspect(error)}\n`;
}

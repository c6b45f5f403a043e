// What the tests that run a child process share: its output collected as it comes, and a wait for
// a line of it that is bounded in time.
import type { ChildProcess } from 'node:child_process';

/** What `child` has written so far; its streams must be pipes. */
export function collect(child: ChildProcess): { stdout: string; stderr: string } {
  const out = { stdout: '', stderr: '' };
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out.stdout += chunk;
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    out.stderr += chunk;
  });
  return out;
}

/** Resolves once `read()` matches `pattern`, checking whenever the child writes; bounded by `ms`. */
export function waitFor(
  child: ChildProcess,
  read: () => string,
  pattern: RegExp,
  ms: number,
): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const match = read().match(pattern);
      if (match === null) return;
      finish();
      resolve(match);
    };
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`no ${pattern} within ${ms} ms; so far:\n${read()}`));
    }, ms);
    const finish = () => {
      clearTimeout(timer);
      child.stdout!.off('data', check);
      child.stderr!.off('data', check);
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    check();
  });
}

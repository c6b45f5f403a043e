// What a queue's waits and its consumer share: the options of a wait, and how both name the queue.
import * as check from './core/validate.js';
import type { QueueWaitOptions } from './queue.js';

const WAIT_KEYS = ['timeout', 'signal'] as const;

/** How a queue is named in messages: `queue "jobs"`, or `queue` when it has no name. */
export function labelOf(name: string | undefined): string {
  return name === undefined ? 'queue' : `queue ${JSON.stringify(name)}`;
}

/** `1 item`, `2 items`. */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

export function parseWait(options: QueueWaitOptions | undefined): QueueWaitOptions {
  const o = check.options<QueueWaitOptions>(options, WAIT_KEYS);
  return {
    signal: check.signal(o.signal, 'options.signal'),
    timeout: check.timeout(o.timeout, 'options.timeout'),
  };
}

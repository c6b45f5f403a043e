// Side-by-side measurement: every contender runs the same workload in the same process,
// interleaved round by round (A B C A B C …) with a GC before each run, so the ratios hold on a
// noisy machine. Run with `node --expose-gc --import tsx`.

export interface Measured {
  name: string;
  /** Median, min and max of the per-round figure (ns per item unless said otherwise). */
  median: number;
  min: number;
  max: number;
  rounds: number[];
}

const gc = (globalThis as { gc?: () => void }).gc;

/** Collects garbage twice, when the process runs with --expose-gc (`npm run bench` does; a smoke test may not). */
export function collect(): void {
  gc?.();
  gc?.();
}

export const gcExposed = gc !== undefined;

/**
 * Runs each contender `rounds` times, interleaved, and returns ns per item for each.
 * `run` performs the whole workload of `items` items and resolves when it is done.
 */
export async function compare(
  contenders: Array<{ name: string; run: () => Promise<unknown> }>,
  items: number,
  rounds = 5,
  progress?: (text: string) => void,
): Promise<Measured[]> {
  const results = contenders.map((c) => ({ name: c.name, rounds: [] as number[] }));
  // One untimed warm-up run each, so that the JIT has seen every contender.
  for (const c of contenders) await c.run();
  for (let round = 0; round < rounds; round++) {
    for (const [i, c] of contenders.entries()) {
      collect();
      const started = process.hrtime.bigint();
      await c.run();
      const ns = Number(process.hrtime.bigint() - started);
      results[i]!.rounds.push(ns / items);
    }
    progress?.(`round ${round + 1}/${rounds}`);
  }
  return results.map((r) => ({ ...r, ...stats(r.rounds) }));
}

export function stats(values: number[]): { median: number; min: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted.at(-1)! };
}

/** A column after the figures: its header, and each row's cell (`—` where it gives none). */
export interface Column<R> {
  header: string;
  cell: (row: R) => string | undefined;
}

/** Formats one table: each contender's median and min–max, its ratio to `reference`, then `columns`. */
export function table<R extends Measured>(
  title: string,
  rows: R[],
  reference: string,
  unit = 'ns/item',
  columns: Array<Column<R>> = [],
): string {
  const ref = rows.find((r) => r.name === reference)?.median ?? Number.NaN;
  const extra = (cells: string[]) => cells.map((c) => ` ${c} |`).join('');
  const lines = [
    `### ${title}`,
    '',
    `| contender | median ${unit} | min–max | × ${reference} |${extra(columns.map((c) => c.header))}`,
    `|---|---:|---:|---:|${columns.map(() => '---|').join('')}`,
    ...rows.map(
      (r) =>
        `| ${r.name} | ${fmt(r.median)} | ${fmt(r.min)}–${fmt(r.max)} | ${(r.median / ref).toFixed(2)} |` +
        extra(columns.map((c) => c.cell(r) ?? '—')),
    ),
    '',
  ];
  return lines.join('\n');
}

function fmt(n: number): string {
  return n >= 100 ? n.toFixed(0) : n.toFixed(1);
}

// What the fault campaign (campaign.ts) makes of its workers' output: every section each printed
// (worker.ts), counted as overlap.ts defines, into the one Result per fault that the page shows.
import type { Fault } from './campaign.js';
import { afterResume, believed, type Fate, maxOverlap, recovery, type Section } from './overlap.js';
import type { WorkerSummary } from './worker.js';

export interface Result {
  fault: Fault;
  permits: number;
  sections: number;
  /** Most sections that overlapped while believing they held a permit; must be ≤ permits. */
  believedMax: number;
  /** Most sections that overlapped at all, stopped and lost ones included. */
  overallMax: number;
  /** For a fault on worker 0 (stopped, killed): how many sections it was in at the fault. */
  heldAtFault: number | undefined;
  /** Longest a section of a stopped process still believed after SIGCONT (ms). */
  afterResume: number | undefined;
  /** ms from the fault's end to the throughput back at 80 % of before; undefined if not in the run. */
  recovered: number | undefined;
  errors: Record<string, number>;
  calls: number;
  settled: number;
  /** Exit code (or signal) of each worker. */
  exits: Array<number | string>;
}

/**
 * Reads every line the workers printed (in one pass each) and counts what the page shows; when more
 * sections believed than there are permits, says on stderr which, and why signals aborted.
 */
export function measure(
  fault: Fault,
  permits: number,
  outs: Array<{ stdout: string }>,
  fates: Fate[],
  exits: Array<number | string>,
  t: { started: number; faultAt: number; faultEnd: number; runEnd: number },
): Result {
  const sections: Section[] = [];
  const reasons = new Set<string>();
  const errors: Record<string, number> = {};
  let calls = 0;
  let settled = 0;
  outs.forEach((out, worker) => {
    const open = new Map<string, Section>();
    for (const line of out.stdout.split('\n')) {
      const [tag, a, b, c] = line.split(' ');
      if (tag === 'b') {
        const section: Section = { worker, start: Number(b), end: undefined, lost: undefined };
        open.set(a!, section);
        sections.push(section);
      } else if (tag === 'e') {
        const section = open.get(a!)!;
        section.end = Number(b);
        section.lost = c === '-' ? undefined : Number(c);
      } else if (tag === 'l') {
        reasons.add(line.split(' ').slice(2).join(' '));
      } else if (tag === 'done') {
        const summary = JSON.parse(line.slice(5)) as WorkerSummary;
        calls += summary.calls;
        settled += summary.settled;
        for (const [code, n] of Object.entries(summary.errors)) errors[code] = (errors[code] ?? 0) + n;
      }
    }
  });
  const fateOf = (s: Section) => fates[s.worker]!;
  const spans = sections.flatMap((s) => believed(s, fateOf(s)).map((span) => ({ s, span })));
  const peak = maxOverlap(spans.map((x) => x.span));
  if (peak.max > permits) explain(fault, spans, peak.at!, fates, t.started, reasons);
  const tails = sections.map((s) => afterResume(s, fateOf(s))).filter((x) => x !== undefined);
  return {
    fault,
    permits,
    sections: sections.length,
    believedMax: peak.max,
    overallMax: maxOverlap(sections.map((s) => [s.start, s.end ?? fateOf(s).killedAt ?? t.runEnd])).max,
    heldAtFault: heldAt(sections, fates[0]!.stopped?.from ?? fates[0]!.killedAt),
    afterResume: tails.length === 0 ? undefined : Math.max(...tails),
    recovered:
      fault.name === 'none'
        ? undefined
        : recovery(
            sections.map((s) => s.start),
            [t.started + 300, t.faultAt],
            t.faultEnd,
            t.runEnd,
          ),
    errors,
    calls,
    settled,
    exits,
  };
}

/** How many sections of worker 0 were open at `at` (its stop or its kill), if there was one. */
function heldAt(sections: Section[], at: number | undefined): number | undefined {
  if (at === undefined) return undefined;
  return sections.filter((s) => s.worker === 0 && s.start <= at && (s.end ?? Number.POSITIVE_INFINITY) > at)
    .length;
}

/** On stderr: the sections that believed at once at `at`, more than the permits, for whoever looks into it. */
function explain(
  fault: Fault,
  spans: Array<{ s: Section; span: [number, number] }>,
  at: number,
  fates: Fate[],
  started: number,
  reasons: Set<string>,
): void {
  const ms = (x: number | undefined) => (x === undefined ? '-' : (x - started).toFixed(2));
  const stop = fates[0]!.stopped;
  const lines = [
    `${fault.name}: over the permits at ${ms(at)} ms (from the start; worker 0 stopped ${ms(stop?.from)}-${ms(stop?.to)})`,
  ];
  for (const { s } of spans.filter((x) => x.span[0] <= at && at < x.span[1])) {
    lines.push(`  worker ${s.worker}: section ${ms(s.start)} to ${ms(s.end)}, signal aborted ${ms(s.lost)}`);
  }
  for (const reason of reasons) lines.push(`  a signal aborted: ${reason}`);
  process.stderr.write(`${lines.join('\n')}\n`);
}

// The metric table of docs/observability.md, written from METRICS in src/otel/metrics.ts (the table
// `instrument()` records), between the markers below, so the page and the instrumentation never
// differ. `--check` writes nothing and fails if the page's table is not exactly what it would write.
// Runs under tsx, which lets this script import the TypeScript source.
//
//   npm run docs:otel             (node --import tsx scripts/otel-docs.mjs)
//   npm run docs:otel:check       (the same with --check; part of npm test)
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { METRICS } from '../src/otel/metrics.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const page = join(root, 'docs', 'observability.md');
export const START =
  '<!-- metrics:start: generated from src/otel/metrics.ts by `npm run docs:otel`; do not edit -->';
export const END = '<!-- metrics:end -->';

/**
 * The name @opentelemetry/exporter-prometheus 0.223 gives a metric, as seen in a real scrape
 * (test/metrics.example.test.ts checks it against one): dots become underscores, a counter gets
 * `_total`, the unit is not appended (it is on the `# UNIT` line). A histogram's series are this
 * name with `_bucket`, `_count` and `_sum`.
 */
export function prometheusName(metric) {
  const base = metric.name.replace(/[^a-zA-Z0-9_:]/g, '_');
  return metric.instrument === 'counter' ? `${base}_total` : base;
}

/** `text` safe inside a Markdown table cell. */
const cell = (text) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The generated table, markers included. */
export function table() {
  const rows = METRICS.map((m) => {
    const attributes = Object.entries(m.attributes).map(([key, values]) => `\`${key}\`: ${values}`);
    return [
      `\`${m.name}\``,
      `\`${prometheusName(m)}\``,
      `${m.instrument}, \`${m.unit}\``,
      attributes.length === 0 ? 'none' : attributes.join('<br>'),
      m.description,
      m.tells,
    ].map(cell);
  });
  return [
    START,
    '',
    '| Metric | Prometheus | Instrument, unit | Attributes (besides `unwedge.kind`, `unwedge.name`) | What it measures | What it tells on-call |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
    END,
  ].join('\n');
}

/** `markdown` with the part between the markers replaced by a fresh table. */
export function regenerate(markdown) {
  const start = markdown.indexOf(START);
  const end = markdown.indexOf(END);
  if (start === -1 || end === -1 || end < start)
    throw new Error(`docs/observability.md: the markers are missing:\n${START}\n${END}`);
  return `${markdown.slice(0, start)}${table()}${markdown.slice(end + END.length)}`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const current = readFileSync(page, 'utf8');
  const fresh = regenerate(current);
  if (process.argv.includes('--check')) {
    if (fresh !== current) {
      console.error('otel-docs: the metric table of docs/observability.md is stale: run `npm run docs:otel`');
      process.exit(1);
    }
    console.log(
      `otel-docs: docs/observability.md lists the ${METRICS.length} metrics of src/otel/metrics.ts`,
    );
  } else {
    writeFileSync(page, fresh);
    console.log(`otel-docs: wrote the table of ${METRICS.length} metrics into docs/observability.md`);
  }
}

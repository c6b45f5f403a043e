// The API reference: typedoc (with typedoc-plugin-markdown, configured in typedoc.json) writes it
// as Markdown into docs/api/, which is committed so that it can be read on the repository and in
// the package. `--check` writes it into a temporary folder instead and fails if docs/api/ is not
// exactly that: a file missing, left over or different. The output has no timestamps and no
// absolute paths (typedoc.json: disableSources), so the comparison is of content alone.
//
// Each module is named by its import path (`@module unwedge/redis` in its entry point). A symbol
// two entry points export is documented under the first in typedoc.json's `entryPoints`, the other
// re-exports it: src/inspect/index.ts comes first so that what `unwedge` re-exports from it is
// documented under `unwedge/inspect`, where it lives. scripts/typedoc-internal-bases.mjs keeps the
// internal `BasePool` out of the pages of the classes that extend it.
//
//   npm run docs          (node scripts/api-docs.mjs)
//   npm run docs:check    (node scripts/api-docs.mjs --check; part of npm test)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const target = join(root, 'docs', 'api');
const check = process.argv.includes('--check');

/** Runs typedoc with the repository's typedoc.json, writing into `out`; exits on any failure. */
function generate(out) {
  const typedoc = join(root, 'node_modules', 'typedoc', 'bin', 'typedoc');
  const result = spawnSync(process.execPath, [typedoc, '--out', out, '--logLevel', 'Warn'], {
    cwd: root,
    encoding: 'utf8',
  });
  process.stdout.write(result.stdout);
  process.stderr.write(result.stderr);
  if (result.status !== 0) {
    console.error(`api-docs: typedoc failed (exit ${result.status ?? result.signal})`);
    process.exit(1);
  }
}

/** Every file under `dir`, as sorted paths relative to it with `/` separators. */
function files(dir) {
  let entries;
  try {
    entries = readdirSync(dir, { recursive: true, withFileTypes: true });
  } catch (error) {
    if (error.code === 'ENOENT') return [];
    throw error;
  }
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split('\\').join('/'))
    .sort();
}

/** What differs between the fresh output and docs/api/, one line each (empty when nothing does). */
function compare(fresh, committed) {
  const a = files(fresh);
  const b = files(committed);
  const inB = new Set(b);
  const inA = new Set(a);
  const problems = [];
  for (const file of a) {
    if (!inB.has(file)) {
      problems.push(`missing: docs/api/${file}`);
      continue;
    }
    const want = readFileSync(join(fresh, file), 'utf8').split('\n');
    const have = readFileSync(join(committed, file), 'utf8').split('\n');
    const line = want.findIndex((text, i) => text !== have[i]);
    if (line !== -1 || want.length !== have.length) {
      const at = line === -1 ? Math.min(want.length, have.length) : line;
      problems.push(
        `differs: docs/api/${file}:${at + 1}\n    expected: ${want[at] ?? '(end of file)'}\n    found:    ${have[at] ?? '(end of file)'}`,
      );
    }
  }
  for (const file of b) if (!inA.has(file)) problems.push(`left over: docs/api/${file}`);
  return problems;
}

if (!check) {
  rmSync(target, { recursive: true, force: true }); // so that a removed export leaves no page behind
  generate(target);
  console.log(`api-docs: wrote ${files(target).length} files into docs/api/`);
} else {
  const fresh = mkdtempSync(join(tmpdir(), 'unwedge-api-docs-'));
  try {
    generate(fresh);
    const problems = compare(fresh, target);
    if (problems.length > 0) {
      console.error(`api-docs: docs/api/ is not what the sources give (${problems.length} files):`);
      for (const problem of problems.slice(0, 20)) console.error(`  ${problem}`);
      if (problems.length > 20) console.error(`  … and ${problems.length - 20} more`);
      console.error('Run `npm run docs` and commit docs/api/.');
      process.exitCode = 1;
    } else {
      console.log(`api-docs: docs/api/ is fresh (${files(target).length} files)`);
    }
  } finally {
    rmSync(fresh, { recursive: true, force: true });
  }
}

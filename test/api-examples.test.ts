// The examples of the API reference (docs/api/, generated from the doc comments in src/) are
// programs a user can paste: every export of every entry point has an `@example`, and every
// `@example` in src/ type-checks as its own module (the repository's strict settings, nodenext)
// against the sources as `unwedge` and its subpaths, then runs to its end in a child process
// (tsx, the Node line under test) against a real redis-server, leaving nothing running. An example
// with lines `console.log(…); // → text` must print exactly those texts, in that order, and no other.
import { type ChildProcess, spawn } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type RedisServer, startRedis } from './redis/server.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const fixtures = join(root, 'test', 'fixtures', 'api-examples');

interface Example {
  /** Where its code starts, e.g. `src/semaphore/semaphore.ts:74`. */
  readonly at: string;
  readonly code: string;
  /** What each `// → text` line says it prints, in order. */
  readonly logs: readonly string[];
}

/** Every src/ file, relative to the root, with `/` separators. */
function sources(): string[] {
  return readdirSync(join(root, 'src'), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => `src/${file.split('\\').join('/')}`)
    .sort();
}

/** The ```ts blocks that follow an `@example` tag in the doc comments of `file`. */
function examplesIn(file: string): Example[] {
  const text = readFileSync(join(root, file), 'utf8');
  const examples: Example[] = [];
  for (const comment of text.matchAll(/\/\*\*[\s\S]*?\*\//g)) {
    const firstLine = text.slice(0, comment.index).split('\n').length;
    const lines = comment[0].split('\n').map((line) => line.replace(/^\s*\/?\*+\/? ?/, ''));
    let inExample = false;
    let block: string[] | undefined;
    let start = 0;
    lines.forEach((line, i) => {
      if (block !== undefined) {
        if (line.trimEnd() === '```') {
          const code = `${block.join('\n')}\n`;
          const logs = [...code.matchAll(/^.*console\.log\(.*\)[;,]? \/\/ → (.*)$/gm)].map((m) => m[1]!);
          examples.push({ at: `${file}:${firstLine + start}`, code, logs });
          block = undefined;
        } else block.push(line);
      } else if (/^@example\b/.test(line)) inExample = true;
      else if (/^@\w/.test(line)) inExample = false;
      else if (inExample && /^```ts\s*$/.test(line)) {
        block = [];
        start = i + 1;
      }
    });
    expect(block, `an unclosed code block in the comment at ${file}:${firstLine}`).toBeUndefined();
  }
  return examples;
}

/** The entry points (typedoc.json) and the import path each one names with `@module`. */
function entryPoints(): Array<{ file: string; module: string }> {
  const config = JSON.parse(readFileSync(join(root, 'typedoc.json'), 'utf8')) as { entryPoints: string[] };
  return config.entryPoints.map((file) => {
    const name = /^\s*\* @module (\S+)\s*$/m.exec(readFileSync(join(root, file), 'utf8'))?.[1];
    return { file, module: name ?? '(no @module tag)' };
  });
}

const examples = sources().flatMap(examplesIn);
let dir: string;
let redis: RedisServer;

beforeAll(async () => {
  mkdirSync(join(root, '.vitest-tmp'), { recursive: true });
  // Inside the repository, so that the examples find p-limit, piscina, ioredis… in its node_modules.
  dir = mkdtempSync(join(root, '.vitest-tmp', 'api-examples-'));
  const paths = Object.fromEntries(
    entryPoints().map(({ file, module }) => [
      module,
      [relative(dir, join(root, file)).split('\\').join('/')],
    ]),
  );
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      extends: relative(dir, join(root, 'tsconfig.json')).split('\\').join('/'),
      compilerOptions: { paths, noEmit: true },
      include: ['*.ts'],
    }),
  );
  examples.forEach((example, i) => {
    writeFileSync(join(dir, `example-${String(i).padStart(3, '0')}.ts`), example.code);
  });
  for (const file of readdirSync(fixtures)) copyFileSync(join(fixtures, file), join(dir, file));
  redis = await startRedis();
}, 30_000);

afterAll(async () => {
  await redis?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the entry points are named by the import paths package.json exports', () => {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    exports: Record<string, unknown>;
  };
  const exported = Object.keys(manifest.exports)
    .filter((key) => key !== './package.json')
    .map((key) => (key === '.' ? 'unwedge' : `unwedge/${key.slice(2)}`))
    .sort();
  expect(
    entryPoints()
      .map((entry) => entry.module)
      .sort(),
  ).toEqual(exported);
});

test('every export of every entry point has an @example', () => {
  const entries = entryPoints();
  const program = ts.createProgram(
    entries.map((entry) => join(root, entry.file)),
    { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, noEmit: true },
  );
  const checker = program.getTypeChecker();
  const missing: string[] = [];
  let count = 0;
  for (const entry of entries) {
    const module = checker.getSymbolAtLocation(program.getSourceFile(join(root, entry.file))!)!;
    for (const exported of checker.getExportsOfModule(module)) {
      count++;
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      // Its own doc comment only: the last one before it (a file's comment before the first
      // declaration is attached to it too).
      const documented = (symbol.declarations ?? []).some((declaration) => {
        const own = ts.getJSDocCommentsAndTags(declaration).filter(ts.isJSDoc).at(-1);
        return (own?.tags ?? []).some((tag) => tag.tagName.text === 'example');
      });
      if (!documented) missing.push(`${entry.module}: ${exported.name}`);
    }
  }
  expect(count).toBeGreaterThan(80);
  expect(missing, 'exports without an @example').toEqual([]);
});

test('every @example in src/ type-checks against the sources, as strictly as the repository', () => {
  expect(examples.length).toBeGreaterThan(80);
  const config = ts.getParsedCommandLineOfConfigFile(join(dir, 'tsconfig.json'), undefined, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
      throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
    },
  })!;
  expect(config.options.strict).toBe(true);
  expect(config.options.module).toBe(ts.ModuleKind.NodeNext);
  const program = ts.createProgram(config.fileNames, config.options);
  const errors = ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const text = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
    if (diagnostic.file === undefined) return text;
    const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start!);
    const name = relative(dir, diagnostic.file.fileName);
    const match = /^example-(\d+)\.ts$/.exec(name);
    // Where the line is in src/: the example's first line, plus the line within it.
    const where = match
      ? examples[Number(match[1])]!.at.replace(/\d+$/, (n) => String(Number(n) + line))
      : `${relative(root, diagnostic.file.fileName)}:${line + 1}`;
    return `${where}: TS${diagnostic.code} ${text}`;
  });
  expect(errors).toEqual([]);
}, 60_000);

/** Runs every example in turn in one child process; resolves with its output once it exits. */
function runAll(child: ChildProcess, bound: number): Promise<{ out: string; code: number | null }> {
  return new Promise((resolve) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    const timer = setTimeout(() => {
      out += `\n[the examples' process was still running after ${bound} ms: killed]\n`;
      child.kill('SIGKILL');
    }, bound);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ out, code });
    });
  });
}

test('every @example runs to its end, prints what it says it prints, and leaves nothing running', async () => {
  const files = examples.map((_, i) => `example-${String(i).padStart(3, '0')}.ts`);
  const child = spawn(process.execPath, ['--import', 'tsx', join(fixtures, 'run-examples.mjs'), ...files], {
    cwd: dir,
    env: { ...process.env, REDIS_URL: `redis://127.0.0.1:${redis.port}`, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { out, code } = await runAll(child, 60_000);
  const results = new Map<string, { outcome: string; logs: string[] }>();
  for (const match of out.matchAll(/^@@example (ok|failed|hung) (\S+) (.*)$/gm)) {
    results.set(match[2]!, { outcome: match[1]!, logs: JSON.parse(match[3]!) as string[] });
  }
  const problems: string[] = [];
  examples.forEach((example, i) => {
    const result = results.get(files[i]!);
    if (result === undefined) problems.push(`${example.at}: did not run`);
    else if (result.outcome !== 'ok') problems.push(`${example.at}: ${result.outcome}`);
    else if (example.logs.length > 0 && JSON.stringify(result.logs) !== JSON.stringify(example.logs)) {
      // An example that says what it prints says it of every line it prints, in order.
      problems.push(
        `${example.at}: printed ${JSON.stringify(result.logs)}, says ${JSON.stringify(example.logs)}`,
      );
    }
  });
  expect(problems, out).toEqual([]);
  if (code !== 0) {
    // Blame the example after which more was active than before the first, and stayed so to the end
    // (a socket that is closing shows after one example and is gone after the next).
    const count = (line: string) => (line === 'none' ? 0 : line.split(', ').length);
    const before = count(/^@@resources before: (.*)$/m.exec(out)?.[1] ?? 'none');
    const after = [...out.matchAll(/^@@resources after (\S+): (.*)$/gm)].map((m) => ({
      file: m[1]!,
      more: count(m[2]!) > before,
    }));
    let first = after.length;
    while (first > 0 && after[first - 1]!.more) first--;
    const culprit = examples[files.indexOf(after[first]?.file ?? '')]?.at ?? 'none found';
    expect.fail(
      `the examples' process did not exit cleanly (${code}); left running since: ${culprit}\n${out}`,
    );
  }
}, 120_000);

// Installs the packed tarball into a fresh project, the way a user would, and imports it from
// ESM and from CommonJS under this Node version; checks what the tarball holds (the files the
// README links to, no source maps) and what its declarations show a user (every export of every
// subpath, nothing internal), and type-checks a strict nodenext user's files against them. Needs
// `npm run build` first (npm test does it).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, expect, test } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
let dir: string;
/** What `npm pack --json` says of the tarball. */
let packed: { filename: string; size: number; unpackedSize: number; files: { path: string }[] };
/** The package as installed in the user's project. */
let installed: string;

function run(cmd: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { cwd, timeout: 120_000, env: { ...process.env, npm_config_update_notifier: 'false' } },
      (error, stdout, stderr) =>
        error
          ? reject(new Error(`${cmd} ${args.join(' ')} failed: ${stderr || error.message}`))
          : resolve(stdout),
    );
  });
}

beforeAll(async () => {
  if (!existsSync(join(root, 'dist/index.js')))
    throw new Error('dist/ is missing: run `npm run build` first');
  dir = await mkdtemp(join(tmpdir(), 'unwedge-pack-'));
  [packed] = JSON.parse(await run('npm', ['pack', '--json', '--pack-destination', dir], root));
  const tarball = join(dir, packed.filename);
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], dir);
  installed = join(dir, 'node_modules', 'unwedge');
}, 180_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const program = (load: string) => `
${load}
const sem = new Semaphore(1, { name: 'packed' });
const held = await sem.acquire();
try {
  await sem.acquire({ timeout: 0 });
} catch (error) {
  console.log(error instanceof TimeoutError, error.code, typeof fanOut, typeof withTimeout);
}
held.release();
`;

test('the packed tarball imports from ESM', async () => {
  await writeFile(
    join(dir, 'esm.mjs'),
    program(`import { Semaphore, TimeoutError, fanOut, withTimeout } from 'unwedge';`),
  );
  expect((await run(process.execPath, ['esm.mjs'], dir)).trim()).toBe(
    'true ERR_UNWEDGE_TIMEOUT function function',
  );
});

test('the packed tarball requires from CommonJS', async () => {
  await writeFile(
    join(dir, 'cjs.cjs'),
    `(async () => {${program(`const { Semaphore, TimeoutError, fanOut, withTimeout } = require('unwedge');`)}})();`,
  );
  expect((await run(process.execPath, ['cjs.cjs'], dir)).trim()).toBe(
    'true ERR_UNWEDGE_TIMEOUT function function',
  );
});

// @opentelemetry/api is an optional peer dependency of unwedge/otel alone: npm does not install it,
// the core and the other subpaths load without it, and unwedge/otel fails naming it. (Before the
// consumer test below, which links it into this project.)
test('without @opentelemetry/api installed, unwedge loads and unwedge/otel names what is missing', async () => {
  expect(existsSync(join(dir, 'node_modules/@opentelemetry/api'))).toBe(false);
  await writeFile(
    join(dir, 'no-otel.mjs'),
    `import { Semaphore } from 'unwedge';
import { inspect } from 'unwedge/inspect';
console.log(typeof Semaphore, typeof inspect);
await import('unwedge/otel').catch((error) => console.log(error.code, error.message.includes("'@opentelemetry/api'")));
`,
  );
  expect((await run(process.execPath, ['no-otel.mjs'], dir)).trim()).toBe(
    'function function\nERR_MODULE_NOT_FOUND true',
  );
  await writeFile(
    join(dir, 'no-otel.cjs'),
    `const { Semaphore } = require('unwedge');
console.log(typeof Semaphore);
try { require('unwedge/otel'); } catch (error) { console.log(error.code, error.message.includes("'@opentelemetry/api'")); }
`,
  );
  expect((await run(process.execPath, ['no-otel.cjs'], dir)).trim()).toBe('function\nMODULE_NOT_FOUND true');
});

// A client stub is enough here: close() settles without Redis, and acquire() on a closed
// semaphore rejects with ClosedError, which must be the same class `unwedge` exports.
const sharedErrors = (load: string) => `
${load}
const client = { evalsha() {}, duplicate() { return { on() {}, disconnect() {}, subscribe: async () => {} }; }, status: 'ready', on() {} };
const sem = new RedisSemaphore(client, { key: 'k', permits: 1 });
await sem.close().catch(() => {});
const error = await sem.acquire().catch((e) => e);
console.log(error instanceof ClosedError, error.code);
`;

test('unwedge/redis shares the error classes of unwedge, from ESM and from CommonJS', async () => {
  await writeFile(
    join(dir, 'shared.mjs'),
    sharedErrors(`import { ClosedError } from 'unwedge';\nimport { RedisSemaphore } from 'unwedge/redis';`),
  );
  expect((await run(process.execPath, ['shared.mjs'], dir)).trim()).toBe('true ERR_UNWEDGE_CLOSED');
  await writeFile(
    join(dir, 'shared.cjs'),
    `(async () => {${sharedErrors(`const { ClosedError } = require('unwedge');\nconst { RedisSemaphore } = require('unwedge/redis');`)}})();`,
  );
  expect((await run(process.execPath, ['shared.cjs'], dir)).trim()).toBe('true ERR_UNWEDGE_CLOSED');
});

// The fronts take the peer's instance; a structural stand-in is enough to show the subpaths
// resolve, run a task, and throw the same ClosedError class as the main entry.
const fronts = (load: string) => `
${load}
const queue = { add: (fn) => Promise.resolve().then(fn), size: 0, pending: 0, concurrency: 1 };
const pool = new PQueuePool(queue);
const answer = await pool.run(() => 41 + 1);
await pool.shutdown();
const error = await pool.run(() => 1).catch((e) => e);
console.log(answer, error instanceof ClosedError, typeof LimitPool, typeof PiscinaPool);
`;

test('the adapter subpaths import from ESM and CommonJS and share the error classes', async () => {
  const esm = `import { ClosedError } from 'unwedge';
import { PQueuePool } from 'unwedge/p-queue';
import { LimitPool } from 'unwedge/p-limit';
import { PiscinaPool } from 'unwedge/piscina';`;
  await writeFile(join(dir, 'fronts.mjs'), fronts(esm));
  expect((await run(process.execPath, ['fronts.mjs'], dir)).trim()).toBe('42 true function function');
  const cjs = `const { ClosedError } = require('unwedge');
const { PQueuePool } = require('unwedge/p-queue');
const { LimitPool } = require('unwedge/p-limit');
const { PiscinaPool } = require('unwedge/piscina');`;
  await writeFile(join(dir, 'fronts.cjs'), `(async () => {${fronts(cjs)}})();`);
  expect((await run(process.execPath, ['fronts.cjs'], dir)).trim()).toBe('42 true function function');
});

// One inspector per process: primitives made by the CommonJS build show in the dump taken through
// the ESM subpath, and origins leave out the library's own frames in dist/.
test("unwedge/inspect sees the primitives of both builds, with origins in the caller's file", async () => {
  await writeFile(
    join(dir, 'inspect.mjs'),
    `import { createRequire } from 'node:module';
import { Semaphore } from 'unwedge';
import { configure, inspect } from 'unwedge/inspect';
import { createInspectHandler } from 'unwedge/inspect/http';
const { Semaphore: CjsSemaphore } = createRequire(import.meta.url)('unwedge');
configure({ captureOrigins: true });
const esm = new Semaphore(1, { name: 'esm-sem' });
const cjs = new CjsSemaphore(1, { name: 'cjs-sem' });
await esm.acquire();
await cjs.acquire();
esm.acquire();
cjs.acquire();
const waiting = inspect().primitives.filter((p) => p.waits.length > 0);
const origins = waiting.map((p) => p.waits[0].origin[0] ?? '');
console.log(waiting.map((p) => p.name).sort().join(), origins.every((o) => o.includes('inspect.mjs')), typeof createInspectHandler);
`,
  );
  expect((await run(process.execPath, ['inspect.mjs'], dir)).trim()).toBe('cjs-sem,esm-sem true function');
});

test('the tarball ships no runtime dependencies', async () => {
  const manifest = JSON.parse(
    await run(process.execPath, ['-p', 'JSON.stringify(require("unwedge/package.json"))'], dir),
  );
  expect(manifest.dependencies ?? {}).toEqual({});
});

/** The targets of the relative links of a Markdown page, as paths from its folder (code left out). */
function relativeLinks(markdown: string): string[] {
  const text = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '');
  const targets = [
    ...[...text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!),
    ...[...text.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)].map((m) => m[1]!),
    ...[...text.matchAll(/<(?:img|a|source)\b[^>]*?\s(?:src|href|srcset)="([^"]+)"/gi)].map((m) => m[1]!),
  ];
  return targets
    .filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t) && !t.startsWith('#') && !t.startsWith('/'))
    .map((t) => posix.normalize(decodeURI(t.replace(/[?#].*$/, ''))).replace(/\/$/, ''));
}

test('every relative link in the README points at a file the tarball ships', async () => {
  const shipped = packed.files.map((f) => f.path);
  const links = relativeLinks(await readFile(join(root, 'README.md'), 'utf8'));
  expect(links.length).toBeGreaterThan(0);
  // A link to a folder resolves when the tarball ships a file inside it.
  const dead = links.filter((l) => !shipped.includes(l) && !shipped.some((f) => f.startsWith(`${l}/`)));
  expect(dead, 'README links to files npm would not publish').toEqual([]);
  expect(relativeLinks('[a](docs/x.md#y) [b](https://e.org/c) ![c](./d/e.svg "t") `[f](g.md)`')).toEqual([
    'docs/x.md',
    'd/e.svg',
  ]);
});

test('the tarball ships no source maps, and no shipped file points at one', async () => {
  expect(packed.files.filter((f) => f.path.endsWith('.map'))).toEqual([]);
  const scripts = packed.files.filter((f) => /\.c?js$/.test(f.path)).map((f) => f.path);
  expect(scripts.length).toBeGreaterThan(0);
  for (const path of scripts) {
    expect(await readFile(join(installed, path), 'utf8'), path).not.toMatch(/sourceMappingURL/);
  }
});

/** Each subpath of package.json's `exports` and the source file it is built from (tsup.config.ts). */
const SUBPATHS: Record<string, string> = {
  '.': 'src/index.ts',
  './redis': 'src/redis/index.ts',
  './piscina': 'src/adapters/piscina.ts',
  './p-queue': 'src/adapters/p-queue.ts',
  './p-limit': 'src/adapters/p-limit.ts',
  './inspect': 'src/inspect/index.ts',
  './inspect/http': 'src/inspect/http.ts',
  './otel': 'src/otel/index.ts',
};

type Conditions = Record<'import' | 'require', { types: string; default: string }>;

/** Every .d.ts and .d.cts file the tarball ships. */
function shippedDeclarations(): string[] {
  return packed.files.map((f) => f.path).filter((p) => /\.d\.c?ts$/.test(p));
}

/**
 * What a declaration file shows a user: the names it declares (classes, interfaces, types,
 * functions, variables), the members of each (`Owner.member`), and its private or protected members.
 */
function shownNames(file: ts.SourceFile): { declared: string[]; members: string[]; hidden: string[] } {
  const declared: string[] = [];
  const members: string[] = [];
  const hidden: string[] = [];
  const visit = (node: ts.Node, owner: string): void => {
    if (
      (ts.isClassDeclaration(node) ||
        ts.isInterfaceDeclaration(node) ||
        ts.isTypeAliasDeclaration(node) ||
        ts.isFunctionDeclaration(node) ||
        ts.isEnumDeclaration(node) ||
        ts.isVariableDeclaration(node)) &&
      node.name !== undefined &&
      ts.isIdentifier(node.name)
    ) {
      declared.push(node.name.text);
      owner = node.name.text;
    } else if ((ts.isClassElement(node) || ts.isTypeElement(node)) && node.name !== undefined) {
      const name = ts.isIdentifier(node.name) ? node.name.text : node.name.getText(file);
      if (!ts.isPrivateIdentifier(node.name)) members.push(`${owner}.${name}`);
      const modifiers = ts.canHaveModifiers(node) ? (ts.getModifiers(node) ?? []) : [];
      if (
        modifiers.some(
          (m) => m.kind === ts.SyntaxKind.PrivateKeyword || m.kind === ts.SyntaxKind.ProtectedKeyword,
        )
      ) {
        hidden.push(`${owner}.${name}`);
      }
    }
    ts.forEachChild(node, (child) => visit(child, owner));
  };
  visit(file, '');
  return { declared, members, hidden };
}

/** The names of the top-level declarations of src/ marked `@internal`. */
async function internalNames(): Promise<Set<string>> {
  const names = new Set<string>();
  const files = (await readdir(join(root, 'src'), { recursive: true })).filter((f) => f.endsWith('.ts'));
  for (const path of files) {
    const text = await readFile(join(root, 'src', path), 'utf8');
    const file = ts.createSourceFile(path, text, ts.ScriptTarget.ES2022, true);
    for (const statement of file.statements) {
      if (!ts.isInternalDeclaration(statement, file)) continue;
      if (ts.isVariableStatement(statement)) {
        for (const d of statement.declarationList.declarations)
          if (ts.isIdentifier(d.name)) names.add(d.name.text);
      } else if (
        'name' in statement &&
        statement.name !== undefined &&
        ts.isIdentifier(statement.name as ts.Node)
      ) {
        names.add((statement.name as ts.Identifier).text);
      }
    }
  }
  return names;
}

test('the subpaths of package.json are the ones built from src', async () => {
  const manifest = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8'));
  expect(
    Object.keys(manifest.exports)
      .filter((k) => k !== './package.json')
      .sort(),
  ).toEqual(Object.keys(SUBPATHS).sort());
});

test('the shipped declarations export every export of every subpath, from ESM and CommonJS', async () => {
  const manifest = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8'));
  const pairs = Object.entries(SUBPATHS).flatMap(([subpath, source]) => {
    const conditions = manifest.exports[subpath] as Conditions;
    return (['import', 'require'] as const).map(
      (c) => [`${subpath} (${c})`, join(root, source), join(installed, conditions[c].types)] as const,
    );
  });
  const program = ts.createProgram(
    pairs.flatMap(([, source, types]) => [source, types]),
    {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      noEmit: true,
      types: ['node'],
    },
  );
  const checker = program.getTypeChecker();
  const exportsOf = (path: string): string[] => {
    const file = program.getSourceFile(path);
    if (file === undefined) throw new Error(`not in the program: ${path}`);
    const symbol = checker.getSymbolAtLocation(file);
    return symbol === undefined
      ? []
      : checker
          .getExportsOfModule(symbol)
          .map((s) => s.name)
          .sort();
  };
  for (const [what, source, types] of pairs) {
    const expected = exportsOf(source);
    expect(expected.length, what).toBeGreaterThan(0);
    expect(exportsOf(types), what).toEqual(expected);
  }
});

// The names a user met in autocomplete and in hovers before (issue 20): the wait core's hooks,
// its records and lists, and the pool's hooks; none may be declared, nor be a member of anything
// shipped. Nor may any top-level declaration of src/ marked @internal (read from the source) be
// declared. BasePool and TaskRunner stay, as the unexported bases of the pools, public members only.
const INTERNAL = [
  'waiters',
  'describeWait',
  'onLeave',
  'timeoutError',
  'Job',
  'OwnJob',
  'JobState',
  'WaiterList',
  'Waiter',
  'AbortHook',
  'Listeners',
  'LongTimer',
  'Tracked',
  'submit',
  'slotFree',
  'startsAtOnce',
  'backlog',
  'enqueued',
  'dropped',
  'lost',
  'checkIdle',
  'parentHere',
  'taskSignal',
];

test('the shipped declarations name nothing internal, and no private or protected member', async () => {
  const internal = await internalNames();
  expect(internal.has('Job') && internal.has('OwnJob')).toBe(true); // the source's tags were read
  const found: string[] = [];
  const hidden: string[] = [];
  for (const path of shippedDeclarations()) {
    const text = await readFile(join(installed, path), 'utf8');
    const shown = shownNames(ts.createSourceFile(path, text, ts.ScriptTarget.ES2022, true));
    for (const name of shown.declared)
      if (internal.has(name) || INTERNAL.includes(name)) found.push(`${path}: ${name}`);
    for (const member of shown.members)
      if (INTERNAL.includes(member.split('.')[1]!)) found.push(`${path}: ${member}`);
    hidden.push(...shown.hidden.map((member) => `${path}: ${member}`));
  }
  expect(shippedDeclarations().length).toBeGreaterThan(0);
  expect(found, 'internal names in the shipped declarations').toEqual([]);
  expect(hidden, 'private or protected members in the shipped declarations').toEqual([]);
});

// A user's strict nodenext project (test/fixtures/consumer): its ESM and CommonJS files import every
// subpath, type-check with skipLibCheck off, so that a declaration left dangling by stripInternal
// fails here, then run on this Node line.
test('a strict nodenext TypeScript project type-checks against the tarball, and its ESM and CJS output run', async () => {
  const project = join(dir, 'ts');
  await mkdir(project);
  for (const file of ['esm.mts', 'cjs.cts', 'tsconfig.json']) {
    await copyFile(join(root, 'test/fixtures/consumer', file), join(project, file));
  }
  // The user's other dependencies, next to unwedge: @types/node, and ioredis for unwedge/redis.
  const modules = join(dir, 'node_modules');
  await mkdir(join(modules, '@types'), { recursive: true });
  await symlink(join(root, 'node_modules/@types/node'), join(modules, '@types/node'), 'dir');
  await symlink(join(root, 'node_modules/ioredis'), join(modules, 'ioredis'), 'dir');
  // And @opentelemetry/api for unwedge/otel (after the test that the core needs none of it).
  await mkdir(join(modules, '@opentelemetry'), { recursive: true });
  await symlink(join(root, 'node_modules/@opentelemetry/api'), join(modules, '@opentelemetry/api'), 'dir');
  await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', project], project).catch(
    (error: Error) => {
      throw new Error(error.message.replaceAll(project, '.'));
    },
  );
  expect((await run(process.execPath, ['out/esm.mjs'], project)).trim()).toBe(
    'true 2,4,6 0 a 42 true true consumer',
  );
  expect((await run(process.execPath, ['out/cjs.cjs'], project)).trim()).toBe('true ran true true');
}, 60_000);

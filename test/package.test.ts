// Installs the packed tarball into a fresh project, the way a user would, and imports it from
// ESM and from CommonJS under this Node version, and checks what the tarball holds (the files the
// README links to, no source maps). Needs `npm run build` first (npm test does it).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
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

// Installs the packed tarball into a fresh project, the way a user would, and imports it from
// ESM and from CommonJS under this Node version. Needs `npm run build` first (npm test does it).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
let dir: string;

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
  const packed = await run('npm', ['pack', '--silent', '--pack-destination', dir], root);
  const tarball = join(dir, packed.trim().split('\n').pop()!);
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], dir);
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

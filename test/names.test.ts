// The built package's functions and classes are named as they are exported, in both builds: a name
// shows in error messages ("received an instance of Semaphore") and in util.inspect, and esbuild
// renamed classes whose static blocks refer to them (`_Semaphore`) until tsup's keepNames was on.
// npm test builds dist/ before the tests run.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
// Every entry point package.json exports, by its ESM file: `./dist/redis.js` → `redis`.
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as {
  exports: Record<string, string | { import: { default: string } }>;
};
const entries = Object.values(pkg.exports)
  .flatMap((e) => (typeof e === 'string' ? [] : [e.import.default])) // not ./package.json
  .map((file) => file.replace(/^\.\/dist\/|\.js$/g, ''));

/** Each exported function whose `name` is not its export's name. */
function misnamed(exports: Record<string, unknown>): string[] {
  return Object.entries(exports)
    .filter(([key, value]) => typeof value === 'function' && value.name !== key)
    .map(([key, value]) => `${key} is named ${(value as () => void).name}`);
}

test.each(entries)(
  'dist/%s: every exported function and class has its own name, in ESM and in CJS',
  async (entry) => {
    const esm = (await import(`${root}dist/${entry}.js`)) as Record<string, unknown>;
    const cjs = require(`${root}dist/${entry}.cjs`) as Record<string, unknown>;
    expect(Object.keys(esm).length).toBeGreaterThan(0);
    expect(misnamed(esm)).toEqual([]);
    expect(misnamed(cjs)).toEqual([]);
  },
);

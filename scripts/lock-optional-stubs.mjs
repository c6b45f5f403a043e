// The npm registry reachable from this project's machines does not serve every platform build
// of packages like @biomejs/cli-* or @rollup/rollup-*. `npm install` then leaves those optional
// dependencies out of package-lock.json, and `npm ci` refuses the lock as out of sync. This adds
// an entry for each missing optional dependency, marked optional, so that `npm ci` accepts the
// lock and skips them (npm tolerates an optional dependency it cannot fetch).
//
//   node scripts/lock-optional-stubs.mjs   (after any `npm install` that changes the lock)
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const packages = lock.packages;
let added = 0;
for (const [key, entry] of Object.entries(packages)) {
  for (const [name, spec] of Object.entries(entry.optionalDependencies ?? {})) {
    // npm resolves from the nearest node_modules up the tree; with the hoisted layout that is the top.
    const nested = `${key ? `${key}/` : ''}node_modules/${name}`;
    const top = `node_modules/${name}`;
    if (packages[nested] || packages[top]) continue;
    packages[top] = { version: spec.replace(/^[\^~=]/, ''), dev: entry.dev ?? false, optional: true };
    added++;
  }
}
lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))),
);
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`added ${added} optional stub entries`);

import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    redis: 'src/redis/index.ts',
    inspect: 'src/inspect/index.ts',
    'inspect/http': 'src/inspect/http.ts',
    otel: 'src/otel/index.ts',
    'adapters/piscina': 'src/adapters/piscina.ts',
    'adapters/p-queue': 'src/adapters/p-queue.ts',
    'adapters/p-limit': 'src/adapters/p-limit.ts',
  },
  format: ['esm', 'cjs'],
  // The declarations show the public surface only: what is marked @internal (the wait core's hooks
  // and records, the pool's running phase, private and protected members) is left out of them.
  dts: { compilerOptions: { stripInternal: true } },
  clean: true,
  // No source maps: dist/ is plain, unminified JavaScript, which a stack trace can point at as it
  // is. A map without its sources would send Node's --enable-source-maps to src/*.ts files the
  // tarball does not hold; with them embedded, maps were 64 % of the unpacked package (1.02 of
  // 1.59 MB, measured with npm pack --dry-run before this change).
  sourcemap: false,
  target: 'node20',
  platform: 'node',
  // Shared chunks, so that `unwedge` and `unwedge/redis` share one copy of the error classes
  // (`instanceof TimeoutError` holds across entries), in CJS as in ESM.
  splitting: true,
  treeshake: true,
  // Classes keep their names: esbuild renames a class whose static block refers to it
  // (`Semaphore.name` was `_Semaphore`), which showed in error messages and util.inspect.
  keepNames: true,
});

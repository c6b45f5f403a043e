import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    redis: 'src/redis/index.ts',
    inspect: 'src/inspect/index.ts',
    'inspect/http': 'src/inspect/http.ts',
    'adapters/piscina': 'src/adapters/piscina.ts',
    'adapters/p-queue': 'src/adapters/p-queue.ts',
    'adapters/p-limit': 'src/adapters/p-limit.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  platform: 'node',
  // Shared chunks, so that `unwedge` and `unwedge/redis` share one copy of the error classes
  // (`instanceof TimeoutError` holds across entries), in CJS as in ESM.
  splitting: true,
  treeshake: true,
});

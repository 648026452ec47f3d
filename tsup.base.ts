import { defineConfig } from 'tsup';

/** The build every package shares: ESM + CJS + declarations for Node 20, from `src/index.ts`. */
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  tsconfig: 'tsconfig.build.json',
});

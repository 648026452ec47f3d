#!/usr/bin/env node
/**
 * What `@ssekit/client` costs a page: the built ESM entry bundled and minified for browsers
 * (esbuild, the one tsup builds with), then gzipped (level 9).
 *
 *   node packages/client/scripts/size.mjs            (--json for the bytes as JSON)
 *
 * Build first (`npx -y pnpm@12.4.2 -r build`).
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';

const ENTRY = fileURLToPath(new URL('../dist/index.mjs', import.meta.url));

/** esbuild as tsup's own dependency: no extra install. */
async function loadEsbuild() {
  const fromHere = createRequire(import.meta.url);
  const tsup = fromHere.resolve('tsup/package.json');
  const esbuild = createRequire(tsup).resolve('esbuild');
  return import(pathToFileURL(esbuild).href);
}

/** @returns {Promise<{ minified: number, gzipped: number }>} sizes in bytes */
export async function measure(entry = ENTRY) {
  if (!existsSync(entry)) throw new Error(`${entry} is missing: build the package first (npx -y pnpm@12.4.2 -r build)`);
  const { build } = await loadEsbuild();
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0].contents;
  return { minified: code.byteLength, gzipped: gzipSync(code, { level: 9 }).byteLength };
}

const isMain = process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === import.meta.url;
if (isMain) {
  const { minified, gzipped } = await measure();
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify({ minified, gzipped }));
    process.exit(0);
  }
  const kb = (n) => `${(n / 1024).toFixed(2)} KB`;
  console.log(`@ssekit/client ESM entry: ${kb(minified)} minified, ${kb(gzipped)} min+gzip (${gzipped} bytes)`);
}

/**
 * The browser bundle stays small: the built ESM entry, bundled and minified by esbuild and
 * gzipped, is under 5 KB. Measured by the same script the README figure comes from; runs on
 * the output of `npm run setup` (install + build).
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { assertBuilt } from '@ssekit/testkit';

it('the ESM entry is under 5 KB minified and gzipped', () => {
  assertBuilt(['client']);
  const output = execFileSync(process.execPath, [resolve(__dirname, '../scripts/size.mjs'), '--json'], { encoding: 'utf8' });
  const { minified, gzipped } = JSON.parse(output) as { minified: number; gzipped: number };
  expect(minified).toBeGreaterThan(gzipped);
  expect(gzipped).toBeLessThan(5 * 1024);
});

/**
 * Loads a workspace package's built entry by its name. A plain `import('@ssekit/core')` works
 * when bench/ is linked as a workspace package; otherwise the package folder's own `exports`
 * map is followed to its `dist`, which is the same file the adapters load.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Folder of a workspace package, e.g. `@ssekit/express` → packages/express. */
export function packageDir(name) {
  return join(root, 'packages', name.replace(/^@ssekit\//, ''));
}

/** Entry file of a built workspace package, or undefined when it is not built. */
export function builtEntry(name) {
  const dir = packageDir(name);
  const manifestPath = join(dir, 'package.json');
  if (!existsSync(manifestPath)) return undefined;
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  const dot = manifest.exports?.['.'];
  const target = dot?.import?.default ?? dot?.import ?? manifest.module ?? manifest.main;
  if (typeof target !== 'string') return undefined;
  const file = join(dir, target);
  return existsSync(file) ? file : undefined;
}

export async function importWorkspace(name) {
  try {
    return await import(name);
  } catch (error) {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
  }
  const file = builtEntry(name);
  if (!file) throw new Error(`${name} is not built: run \`npx -y pnpm@12.4.2 -r build\``);
  return import(pathToFileURL(file).href);
}

/**
 * Loads a workspace package's build by its name, the way a dependent would: a plain
 * `import('@ssekit/core')` where the name resolves, otherwise the package folder's own
 * `exports` map is followed to its `dist`, which is the same file the adapters load. Nothing
 * happens at import time: a package that is not built is reported when it is asked for.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Splits `@ssekit/core/integration` (or `core/integration`) into the package's folder name and
 * the `exports` key: `['core', './integration']`; a bare package is `'.'`.
 * @param {string} name
 */
function splitName(name) {
  const [folder, ...rest] = name.replace(/^@ssekit\//, '').split('/');
  return [folder, rest.length === 0 ? '.' : `./${rest.join('/')}`];
}

/**
 * Folder of a workspace package, e.g. `@ssekit/express` (or `express`) → packages/express.
 * @param {string} name
 */
export function packageDir(name) {
  return join(ROOT, 'packages', splitName(name)[0]);
}

/**
 * ESM entry file of a built workspace package or of one of its subpaths (from its `exports`
 * map, e.g. `@ssekit/core/integration`), or undefined when it does not exist or is not built.
 * @param {string} name
 * @returns {string | undefined}
 */
export function builtEntry(name) {
  const dir = packageDir(name);
  const key = splitName(name)[1];
  const manifestPath = join(dir, 'package.json');
  if (!existsSync(manifestPath)) return undefined;
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  const entry = manifest.exports?.[key];
  const target = typeof entry === 'string' ? entry : (entry?.import?.default ?? entry?.import ?? entry?.default ?? (key === '.' ? (manifest.module ?? manifest.main) : undefined));
  if (typeof target !== 'string') return undefined;
  const file = join(dir, target);
  return existsSync(file) ? file : undefined;
}

/**
 * Names of the packages (of `names`) that have no build, e.g. `['@ssekit/redis']`.
 * @param {readonly string[]} names
 */
export function unbuilt(names) {
  return names.map((n) => (n.startsWith('@ssekit/') ? n : `@ssekit/${n}`)).filter((n) => builtEntry(n) === undefined);
}

/** The error to throw when packages are missing their build. */
export function notBuiltError(names) {
  return new Error(`${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} not built: run \`npx -y pnpm@12.4.2 -r build\` (or \`npm run setup\`) first`);
}

/**
 * Imports a workspace package's build.
 * @param {string} name e.g. `@ssekit/core`, `@ssekit/core/integration`
 */
export async function importWorkspace(name) {
  const full = name.startsWith('@ssekit/') ? name : `@ssekit/${name}`;
  try {
    return await import(full);
  } catch (error) {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
  }
  const file = builtEntry(full);
  if (!file) throw notBuiltError([full]);
  return import(pathToFileURL(file).href);
}

/**
 * Loads the built packages (`pnpm -r build` first). Adapters and the Redis backend are loaded
 * only when a scenario asks for them, so the core scenarios run on their own.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Path of a package's ESM build, or `undefined` when it has not been built. */
export function builtEntry(name) {
  const file = `${root}packages/${name}/dist/index.mjs`;
  return existsSync(file) ? file : undefined;
}

/** True when the package's build exports something beyond the empty skeleton. */
export async function isAvailable(name) {
  const entry = builtEntry(name);
  if (!entry) return false;
  const mod = await import(pathToFileURL(entry).href);
  return Object.keys(mod).length > 0;
}

const coreEntry = builtEntry('core');
if (!coreEntry) {
  throw new Error('packages/core is not built: run `npx -y pnpm@12.4.2 -r build` first');
}
export const core = await import(pathToFileURL(coreEntry).href);

async function load(name) {
  const entry = builtEntry(name);
  if (!entry) throw new Error(`packages/${name} is not built`);
  return import(pathToFileURL(entry).href);
}

export async function loadRedis() {
  const redis = await load('redis');
  const { default: Redis } = await import('ioredis');
  return { ...redis, Redis };
}

/**
 * One factory per adapter: `(options, hooks) => { server, hub, connectionCount, shutdown }`.
 * `hooks.topicsOf(url)`, `hooks.wantsClose(url)` and `hooks.track(connection)` come from the
 * server process.
 */
export const adapters = {};

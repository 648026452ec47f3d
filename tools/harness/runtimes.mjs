/**
 * The JavaScript runtimes the Fetch adapter is tested and measured on: Node.js (this process's),
 * Bun and Deno. The Bun and Deno binaries ship inside the `@oven/bun-linux-x64` and
 * `@deno/linux-x64-glibc` devDependencies, so nothing is downloaded; Deno gets its own
 * `DENO_DIR` in a temporary folder, so it never touches a shared cache.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './workspace.mjs';

/** @typedef {'node' | 'bun' | 'deno'} RuntimeName */

/** @type {readonly RuntimeName[]} */
export const RUNTIMES = Object.freeze(['node', 'bun', 'deno']);

/**
 * Path of a runtime's executable; throws with the fix when it is not installed.
 * @param {RuntimeName} name
 * @returns {string}
 */
export function runtimeBinary(name) {
  if (name === 'node') return process.execPath;
  const path = name === 'bun' ? join(ROOT, 'node_modules/@oven/bun-linux-x64/bin/bun') : join(ROOT, 'node_modules/@deno/linux-x64-glibc/deno');
  if (!existsSync(path)) throw new Error(`${name} is not installed at ${path}: run \`npm run setup\` (its binary ships in a devDependency).`);
  return path;
}

/**
 * How to start `script` on `name`: the `executable`, the flags before the script, extra
 * environment, and `cleanup()` to call once the process has exited (removes Deno's folder).
 * Deno may listen on and connect to the loopback only, and read files and the environment.
 * @param {RuntimeName} name
 * @param {{ nodeArgs?: string[] }} [options] flags for Node.js (ignored by the others)
 * @returns {{ executable: string, args: string[], env: Record<string, string>, cleanup(): void }}
 */
export function runtimeCommand(name, { nodeArgs = [] } = {}) {
  const executable = runtimeBinary(name);
  if (name === 'node') return { executable, args: nodeArgs, env: {}, cleanup() {} };
  if (name === 'bun') return { executable, args: [], env: {}, cleanup() {} };
  const dir = mkdtempSync(join(tmpdir(), 'ssekit-deno-'));
  return {
    executable,
    args: ['run', '--quiet', '--no-prompt', '--allow-net=127.0.0.1', '--allow-env', '--allow-read', '--allow-sys'],
    env: { DENO_DIR: dir, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * Starts a Fetch app as its own runtime process (Node, Bun or Deno) and stops it. The Bun and
 * Deno binaries come from the `@oven/bun-linux-x64` and `@deno/linux-x64-glibc` devDependencies:
 * nothing is downloaded, and Deno gets a fresh `DENO_DIR` so it never touches a shared cache.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../../..');

/** The runtimes the contract suite runs on. */
export type RuntimeName = 'node' | 'bun' | 'deno';
export const RUNTIMES: readonly RuntimeName[] = ['node', 'bun', 'deno'];

/** Path of a runtime's executable. */
export function runtimeBinary(name: RuntimeName): string {
  if (name === 'node') return process.execPath;
  const path =
    name === 'bun'
      ? join(ROOT, 'node_modules/@oven/bun-linux-x64/bin/bun')
      : join(ROOT, 'node_modules/@deno/linux-x64-glibc/deno');
  if (!existsSync(path)) {
    throw new Error(`${name} is not installed at ${path}: run \`npm run setup\` (the binary ships in a devDependency).`);
  }
  return path;
}

/** A running app process. */
export interface RuntimeProcess {
  readonly name: RuntimeName;
  /** Base URL, e.g. `http://127.0.0.1:41205`. */
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything the process printed so far. */
  output(): string;
  /** Stops the process (SIGTERM, then SIGKILL after `timeoutMs`) and removes its temp folder. */
  stop(timeoutMs?: number): Promise<void>;
}

/**
 * Runs `script` (a path) on `name`, with `env` added, and resolves once it prints
 * `LISTENING <port>`.
 */
export function startRuntime(name: RuntimeName, script: string, env: Record<string, string> = {}, timeoutMs = 15_000): Promise<RuntimeProcess> {
  const tmp = name === 'deno' ? mkdtempSync(join(tmpdir(), 'ssekit-deno-')) : undefined;
  const args =
    name === 'deno'
      ? ['run', '--quiet', '--no-prompt', '--allow-net=127.0.0.1', '--allow-env', '--allow-read', '--allow-sys', script]
      : [script];
  const child = spawn(runtimeBinary(name), args, {
    cwd: ROOT,
    env: { ...process.env, ...env, ...(tmp ? { DENO_DIR: tmp, DENO_NO_UPDATE_CHECK: '1' } : {}), NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const cleanup = (): void => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  };

  const stop = async (stopTimeoutMs = 5000): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((done) => {
        timer = setTimeout(() => done('late'), stopTimeoutMs);
      });
      if ((await Promise.race([exited, late])) === 'late') {
        child.kill('SIGKILL');
        await exited;
      }
      clearTimeout(timer);
    }
    cleanup();
  };

  return new Promise((resolveStart, rejectStart) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      cleanup();
      rejectStart(new Error(`${name} ${script} printed no LISTENING line within ${timeoutMs} ms. Output:\n${output}`));
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      const match = /LISTENING (\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        child.stdout!.on('data', (more: Buffer) => (output += more.toString('utf8')));
        resolveStart({ name, url: `http://127.0.0.1:${match[1]}`, child, output: () => output, stop });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      cleanup();
      rejectStart(new Error(`${name} ${script} exited (${code ?? signal}) before listening. Output:\n${output}`));
    });
  });
}

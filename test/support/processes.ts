/**
 * Child processes in tests, on the harness's supervisor: killed by the cleanup registry, their
 * output captured for the failure message. `runScript` starts a program the way a user does
 * (`node examples/<name>/server.mjs` with `PORT=0`) and waits for the URL it prints.
 */
import { resolve } from 'node:path';
import { start, type Child, type StartOptions } from '@ssekit/harness/procs';
import { notBuiltError, unbuilt } from '@ssekit/harness/workspace';
import { track } from './cleanup';

export type { Child };

/** The repository root. */
export const ROOT = resolve(__dirname, '../..');

/** Starts `node <file> <args>` with its output captured (no IPC unless asked); killed after the test or file. */
export function startProcess(file: string, args: readonly string[] = [], options: StartOptions = {}): Child {
  const child = start(file, args, { ipc: false, output: 'capture', ...options });
  track(() => child.kill());
  return child;
}

/** A program started by {@link runScript}. */
export interface RunningScript {
  /** The base URL the program printed, e.g. `http://localhost:41205`. */
  readonly url: string;
  readonly child: Child;
  /** Everything the process wrote so far (stdout and stderr). */
  output(): string;
  /**
   * Sends `signal` and resolves with the exit code; rejects (after a SIGKILL) when the
   * process is still running `timeoutMs` later.
   */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
}

/**
 * Starts `<ROOT>/<script>` with `PORT=0` (and `env`) and resolves once it prints its URL.
 * @param urlPattern - how to find the URL in the output; its first group is the base URL.
 */
export async function runScript(
  script: string,
  { urlPattern = /(http:\/\/localhost:\d+)/, timeoutMs = 15_000, env = {} }: { urlPattern?: RegExp; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<RunningScript> {
  const child = startProcess(resolve(ROOT, script), [], { cwd: ROOT, env: { ...process.env, PORT: '0', NODE_ENV: 'test', ...env }, label: script });
  const match = await child.waitForOutput(urlPattern, timeoutMs).catch((error: unknown) => {
    child.kill();
    throw error;
  });
  return {
    url: match[1]!,
    child,
    output: () => child.output(),
    async stop(signal = 'SIGTERM', stopTimeoutMs = 5000) {
      const exit = await child.stop({ signal, graceMs: stopTimeoutMs });
      if (exit.forced) throw new Error(`${script} did not exit within ${stopTimeoutMs} ms of ${signal}. Output:\n${child.output()}`);
      return exit.code;
    },
  };
}

/** Fails with a clear message when one of `packages` (e.g. `['core', 'express']`) has no build. */
export function assertBuilt(packages: readonly string[]): void {
  const missing = unbuilt(packages);
  if (missing.length > 0) throw notBuiltError(missing);
}

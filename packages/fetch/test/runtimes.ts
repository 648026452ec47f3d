/**
 * Starts a Fetch app as its own runtime process (Node, Bun or Deno) on the test kit's process
 * supervisor, and resolves once it prints `LISTENING <port>`. The process is stopped by the
 * kit's cleanup registry after the test, or by `stop()`.
 */
import { RUNTIMES, runtimeCommand, type RuntimeName } from '@ssekit/harness/runtimes';
import { ROOT, startProcess, track, type Child } from '@ssekit/testkit';

export { RUNTIMES, type RuntimeName };

/** A running app process. */
export interface RuntimeProcess {
  readonly name: RuntimeName;
  /** Base URL, e.g. `http://127.0.0.1:41205`. */
  readonly url: string;
  readonly child: Child;
  /** Everything the process printed so far. */
  output(): string;
}

/** Runs `script` on `name`, with `env` added, and resolves once it listens. */
export async function startRuntime(name: RuntimeName, script: string, env: Record<string, string> = {}, timeoutMs = 20_000): Promise<RuntimeProcess> {
  const command = runtimeCommand(name);
  const child = startProcess(script, [], {
    executable: command.executable,
    nodeArgs: command.args,
    cwd: ROOT,
    env: { ...process.env, ...command.env, ...env },
    label: `${name} ${script}`,
  });
  track(async () => {
    child.kill();
    await child.exited;
    command.cleanup();
  });
  const match = await child.waitForOutput(/LISTENING (\d+)/, timeoutMs);
  return { name, url: `http://127.0.0.1:${match[1]}`, child, output: () => child.output() };
}

/**
 * What every scenario shares: figures and invariant checks, a hard deadline, cleanup of every
 * child, server and socket on every exit path, and the server under stress as a child process.
 * Options come from the harness (`@ssekit/harness/args`).
 */
import { fileURLToPath } from 'node:url';
import { killAll, start } from '@ssekit/harness/procs';

const SERVER_SCRIPT = fileURLToPath(new URL('./server.mjs', import.meta.url));

/**
 * Starts a server child (see server.mjs; `config` as its defaults) with the hard open-files
 * limit, and resolves once it listens. On top of the supervisor's `next` and `ask`: `port`,
 * `stats(extra)` and `close()` (the server's graceful shutdown, then its own exit).
 */
export async function startServer(config) {
  // STRESS_CPU_PROF=<dir>: each server writes a CPU profile there when it exits.
  const profile = process.env.STRESS_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.STRESS_CPU_PROF}`] : [];
  const child = start(SERVER_SCRIPT, [JSON.stringify(config)], { nodeArgs: ['--expose-gc', ...profile], files: 'max', label: 'stress server' });
  child.child.on('message', (message) => {
    if (message?.type === 'error') console.error(`server error: ${message.message}`);
  });
  const ready = await child.next('ready', 20_000);
  return Object.assign(child, {
    port: ready.port,
    stats: (extra = {}) => child.ask({ cmd: 'stats', ...extra }, 'stats'),
    async close() {
      if (!child.alive) return;
      await child.ask({ cmd: 'close' }, 'closed', 20_000);
      // The server disconnects and must then exit by itself; it is killed after 5 s.
      await child.stop({ message: null, signal: null, graceMs: 5000 });
    },
  });
}

const MiB = 1024 * 1024;
export const mib = (bytes) => `${(bytes / MiB).toFixed(1)} MiB`;

/** Collects figures and invariant results for one scenario. */
export class Report {
  constructor(name) {
    this.name = name;
    this.failures = [];
    this.cleanups = [];
    this.started = Date.now();
    console.log(`\n=== ${name}`);
  }

  /** Prints one measured figure. */
  figure(label, value) {
    console.log(`  ${label.padEnd(46)} ${value}`);
  }

  /** Records an invariant; a false `ok` fails the scenario. */
  check(label, ok, detail = '') {
    console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${label}${detail ? ` (${detail})` : ''}`);
    if (!ok) this.failures.push(label);
  }

  /** Registers cleanup work, run in reverse order by {@link Report.finish}. */
  onCleanup(fn) {
    this.cleanups.push(fn);
  }

  async cleanup() {
    for (const fn of this.cleanups.reverse()) {
      try {
        await fn();
      } catch (error) {
        console.error(`  cleanup failed: ${error?.message ?? error}`);
      }
    }
    this.cleanups = [];
    killAll();
  }

  /** Runs `body(report)` under a deadline, cleans up, prints the verdict and sets the exit code. */
  static async run(name, deadlineMs, body) {
    const report = new Report(name);
    let timer;
    const deadline = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`scenario exceeded its ${deadlineMs / 1000} s deadline`)), deadlineMs);
    });
    try {
      await Promise.race([body(report), deadline]);
    } catch (error) {
      report.check('scenario ran to completion', false, error?.stack ?? String(error));
    } finally {
      clearTimeout(timer);
      await report.cleanup();
    }
    const seconds = ((Date.now() - report.started) / 1000).toFixed(1);
    if (report.failures.length === 0) console.log(`  PASS ${name} in ${seconds} s`);
    else console.log(`  FAILED ${name} in ${seconds} s: ${report.failures.join('; ')}`);
    process.exitCode = report.failures.length === 0 ? 0 : 1;
    return report;
  }
}

/** Resolves once `predicate()` (sync or async) holds; polls every `everyMs`; bounded. */
export async function until(predicate, timeoutMs, what, everyMs = 50) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Runs `task(i)` for i in [0, count) with at most `limit` running at once. */
export async function pool(count, limit, task) {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, count) }, async () => {
    while (next < count) await task(next++);
  });
  await Promise.all(workers);
}

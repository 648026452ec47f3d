/**
 * What every scenario shares: options from the command line, figures and invariant checks,
 * a hard deadline, and cleanup of every child, server and socket on every exit path.
 */
import { parseArgs } from 'node:util';
import { killAll } from './procs.mjs';

/** Parses `--name value` options; `spec` maps names to `{ default, help }` (numbers or strings). */
export function options(spec, argv = process.argv.slice(2)) {
  const parsed = parseArgs({
    args: argv,
    options: Object.fromEntries(Object.keys(spec).map((k) => [k, { type: 'string' }])),
    strict: false,
    allowPositionals: true,
  }).values;
  const out = {};
  for (const [key, { default: value }] of Object.entries(spec)) {
    const given = parsed[key];
    out[key] = given === undefined ? value : typeof value === 'number' ? Number(given) : given;
    if (typeof value === 'number' && !Number.isFinite(out[key])) throw new Error(`--${key} must be a number`);
  }
  return out;
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

/**
 * Runs an example exactly as a user does (`node examples/<name>/server.mjs`) on a free port, and
 * reads its event stream. Examples import the built packages (`packages/<name>/dist`), the way
 * an app would, so `npm run setup` (install + build) must have run first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { get, type IncomingMessage } from 'node:http';
import { resolve } from 'node:path';
import { createParser, type EventSourceMessage } from 'eventsource-parser';

const ROOT = resolve(__dirname, '../..');

export interface RunningExample {
  /** The base URL the example printed, e.g. `http://localhost:41205`. */
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything the process wrote so far (stdout and stderr). */
  output(): string;
  /** Sends `signal` and resolves with the exit code; kills the process after `timeoutMs`. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
}

/** Fails with a clear message when a package the examples import has not been built. */
export function assertBuilt(packages: readonly string[]): void {
  const missing = packages.filter((name) => !existsSync(resolve(ROOT, 'packages', name, 'dist/index.mjs')));
  if (missing.length > 0) {
    throw new Error(
      `The examples import the built packages, and ${missing.map((n) => `@ssekit/${n}`).join(', ')} ` +
        'has no dist/. Run `npm run setup` (install and build) first.',
    );
  }
}

/**
 * Starts `examples/<script>` with `PORT=0` and resolves once it prints its URL.
 * @param urlPattern - how to find the URL in the output; its first group is the base URL.
 */
export function runExample(script: string, urlPattern = /(http:\/\/localhost:\d+)/, timeoutMs = 15_000): Promise<RunningExample> {
  const child = spawn(process.execPath, [resolve(ROOT, 'examples', script)], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', NODE_ENV: 'test' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));

  const stop = async (signal: NodeJS.Signals = 'SIGTERM', stopTimeoutMs = 5000): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<'timeout'>((done) => {
      timer = setTimeout(() => done('timeout'), stopTimeoutMs);
    });
    const result = await Promise.race([exited, killed]);
    clearTimeout(timer);
    if (result === 'timeout') {
      child.kill('SIGKILL');
      await exited;
      throw new Error(`${script} did not exit within ${stopTimeoutMs} ms of ${signal}. Output:\n${output}`);
    }
    return result;
  };

  return new Promise((resolveStart, rejectStart) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rejectStart(new Error(`${script} printed no URL within ${timeoutMs} ms. Output:\n${output}`));
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      const match = urlPattern.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolveStart({ url: match[1], child, output: () => output, stop });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      rejectStart(new Error(`${script} exited (${code ?? signal}) before printing its URL. Output:\n${output}`));
    });
  });
}

/** A recording event-stream client (plain HTTP, no browser). */
export interface StreamRecorder {
  readonly response: IncomingMessage;
  readonly events: EventSourceMessage[];
  /** Resolves with the first recorded event matching `test`, waiting up to `timeoutMs`. */
  waitFor(test: (event: EventSourceMessage) => boolean, timeoutMs?: number): Promise<EventSourceMessage>;
  close(): void;
}

/** Opens an event stream and records every event; resolves once the response headers arrive. */
export function recordStream(url: string, headers: Record<string, string> = {}, timeoutMs = 5000): Promise<StreamRecorder> {
  return new Promise((resolveOpen, rejectOpen) => {
    const events: EventSourceMessage[] = [];
    const waiters = new Set<() => void>();
    const request = get(url, { headers: { accept: 'text/event-stream', ...headers } }, (response) => {
      clearTimeout(timer);
      const parser = createParser({
        onEvent(event) {
          events.push(event);
          for (const wake of waiters) wake();
        },
      });
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => parser.feed(chunk));
      response.on('error', () => {});
      resolveOpen({
        response,
        events,
        waitFor(test, waitMs = 5000) {
          return new Promise((found, fail) => {
            const check = (): boolean => {
              const hit = events.find(test);
              if (!hit) return false;
              clearTimeout(deadline);
              waiters.delete(wake);
              found(hit);
              return true;
            };
            const wake = (): void => void check();
            const deadline = setTimeout(() => {
              waiters.delete(wake);
              fail(new Error(`No matching event within ${waitMs} ms; got ${events.length} events`));
            }, waitMs);
            waiters.add(wake);
            check();
          });
        },
        close: () => request.destroy(),
      });
    });
    const timer = setTimeout(() => {
      request.destroy();
      rejectOpen(new Error(`No response from ${url} within ${timeoutMs} ms`));
    }, timeoutMs);
    request.on('error', (error) => {
      clearTimeout(timer);
      rejectOpen(error);
    });
  });
}

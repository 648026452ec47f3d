/**
 * The quick starts of the root README and of each adapter's README, run word for word the way a
 * new user runs them: in an app folder where only what the README's one `npm install` line names
 * is installed (the adapter and its framework), against the built package. Each must stream
 * its events and exit on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { get, createServer, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');

/** The first fenced block of `lang` after `heading` in `file`. */
function snippet(file: string, heading: string, lang: string): string {
  const readme = readFileSync(resolve(ROOT, file), 'utf8');
  const section = readme.slice(readme.indexOf(heading));
  const match = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(section);
  if (!match) throw new Error(`no \`\`\`${lang} block after "${heading}" in ${file}`);
  return match[1]!;
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((done) => child.once('exit', (code) => done(code)));
}

/** Resolves with `value` or rejects after `ms`, naming `what`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

interface QuickStart {
  readme: string;
  heading: string;
  adapter: 'express' | 'fastify' | 'koa';
  framework: string;
  /** What the first event the example sends looks like on the wire, and a broadcast one. */
  expect: RegExp[];
}

const QUICK_STARTS: QuickStart[] = [
  { readme: 'README.md', heading: '## Quick start', adapter: 'express', framework: 'express', expect: [/event: hello\ndata: \{"at":\d+\}\n\n/, /\ndata: \{"time":"[^"]+"\}\n\n/] },
  { readme: 'packages/express/README.md', heading: '# @ssekit/express', adapter: 'express', framework: 'express', expect: [/event: hello\ndata: \{"at":\d+\}\n\n/, /\ndata: \d{4}-\d\d-\d\dT[^\n]+\n\n/] },
  { readme: 'packages/fastify/README.md', heading: '# @ssekit/fastify', adapter: 'fastify', framework: 'fastify', expect: [/event: hello\ndata: \{"at":\d+\}\n\n/, /\ndata: \d{4}-\d\d-\d\dT[^\n]+\n\n/] },
  { readme: 'packages/koa/README.md', heading: '# @ssekit/koa', adapter: 'koa', framework: 'koa', expect: [/event: hello\ndata: \{"at":\d+\}\n\n/, /\ndata: \d{4}-\d\d-\d\dT[^\n]+\n\n/] },
];

describe.each(QUICK_STARTS)('the quick start of $readme', ({ readme, heading, adapter, framework, expect: wanted }) => {
  let app: string;
  let child: ChildProcess | undefined;
  let response: IncomingMessage | undefined;

  beforeAll(() => {
    expect(snippet(readme, heading, 'sh').trim()).toBe(`npm install @ssekit/${adapter} ${framework}`);
    app = mkdtempSync(join(tmpdir(), 'ssekit-quick-start-'));
    // Exactly what that `npm install` gives the app: those two packages (each resolving its own
    // dependencies), and nothing else at the top level.
    mkdirSync(join(app, 'node_modules', '@ssekit'), { recursive: true });
    symlinkSync(resolve(ROOT, 'packages', adapter), join(app, 'node_modules/@ssekit', adapter));
    symlinkSync(realpathSync(resolve(ROOT, 'packages', adapter, 'node_modules', framework)), join(app, 'node_modules', framework));
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'quick-start', private: true }));
  });

  afterAll(async () => {
    response?.destroy();
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exitOf(child);
    }
    rmSync(app, { recursive: true, force: true });
  });

  it('streams events and exits on SIGTERM', async () => {
    const port = await freePort();
    const code = snippet(readme, heading, 'js').replaceAll('3000', String(port));
    writeFileSync(join(app, 'server.js'), code);
    const proc = spawn(process.execPath, ['server.js'], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    let output = '';
    proc.stdout!.on('data', (chunk: Buffer) => (output += chunk));
    proc.stderr!.on('data', (chunk: Buffer) => (output += chunk));

    // The server is up once it answers; retry the first request until then.
    const open = async (): Promise<IncomingMessage> => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await new Promise<IncomingMessage>((done, fail) => {
            get(`http://127.0.0.1:${port}/events`, done).once('error', fail);
          });
        } catch (error) {
          if (proc.exitCode !== null || attempt > 100) throw new Error(`server did not start: ${String(error)}\n${output}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    };
    response = await within(open(), 10_000, 'server start');
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/event-stream; charset=utf-8');

    let body = '';
    const events = new Promise<void>((done) => {
      response!.on('data', (chunk: Buffer) => {
        body += chunk;
        if (wanted.every((pattern) => pattern.test(body))) done();
      });
    });
    await within(events, 5000, `the example's events (got ${JSON.stringify(body)})`);

    // Only the event path opens a stream: a browser's /favicon.ico request must not.
    const other = await within(
      new Promise<IncomingMessage>((done, fail) => get(`http://127.0.0.1:${port}/favicon.ico`, done).once('error', fail)),
      5000,
      'GET /favicon.ico',
    );
    other.resume();
    expect(other.statusCode).toBe(404);
    expect(other.headers['content-type'] ?? '').not.toContain('text/event-stream');

    proc.kill('SIGTERM');
    expect(await within(exitOf(proc), 5000, `exit after SIGTERM\n${output}`)).toBe(0);
    expect(output).toBe('');
  });
});

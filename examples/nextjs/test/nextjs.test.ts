/**
 * Builds the Next.js example as a user would (`next build`, then `next start`) and reads its
 * App Router route handler's event stream. Next.js and its SWC compiler come from the registry
 * packages installed with the workspace: the build needs no network.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { assertBuilt, connect, startProcess, type Child } from '@ssekit/testkit';

const DIR = resolve(__dirname, '..');
const NEXT = resolve(DIR, 'node_modules/next/dist/bin/next');
const ENV = { NEXT_TELEMETRY_DISABLED: '1' };

describe('examples/nextjs', () => {
  let app: { url: string; child: Child };

  beforeAll(async () => {
    assertBuilt(['core', 'fetch']);
    await promisify(execFile)(process.execPath, [NEXT, 'build'], { cwd: DIR, env: { ...process.env, ...ENV }, timeout: 150_000 });
    const child = startProcess(NEXT, ['start', '-p', '0'], { cwd: DIR, env: { ...process.env, ...ENV }, label: 'next start' });
    const match = await child.waitForOutput(/Local:\s+(http:\/\/localhost:\d+)/, 30_000);
    app = { url: match[1]!, child };
  }, 180_000);

  const publish = async (body: { topic?: string; text: string }): Promise<string> => {
    const res = await fetch(`${app.url}/api/publish`, { method: 'POST', body: JSON.stringify(body) });
    return ((await res.json()) as { id: string }).id;
  };

  it('streams from the route handler at once, uncompressed, and replays after Last-Event-ID', async () => {
    const stream = await connect(`${app.url}/api/events?topic=notes`, { 'accept-encoding': 'gzip' });
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(stream.headers['content-encoding']).toBeUndefined();
    await stream.waitFor((e) => e.event === 'welcome');
    const id = await publish({ topic: 'notes', text: 'one' });
    expect((await stream.waitFor((e) => e.event === 'note', 2000)).id).toBe(id);
    stream.close();

    await publish({ topic: 'notes', text: 'two' });
    const resumed = await connect(`${app.url}/api/events?topic=notes`, { 'Last-Event-ID': id });
    expect(JSON.parse((await resumed.waitFor((e) => e.event === 'note')).data)).toEqual({ text: 'two' });
    resumed.close();
  });

  it('answers a bad topic with a plain 400', async () => {
    const res = await fetch(`${app.url}/api/events?topic=`);
    expect(res.status).toBe(400);
  });
});

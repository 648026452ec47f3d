import { assertBuilt, connect, runScript, type RunningScript } from '@ssekit/testkit';

describe('examples/hono', () => {
  let example: RunningScript;

  beforeAll(async () => {
    assertBuilt(['core', 'fetch']);
    example = await runScript('examples/hono/server.mjs');
  });

  afterAll(async () => {
    await example?.stop('SIGKILL');
  });

  const publish = async (headline: string): Promise<string> => {
    const res = await fetch(`${example.url}/news`, { method: 'POST', body: JSON.stringify({ headline }) });
    return ((await res.json()) as { id: string }).id;
  };

  it('streams what is published and replays what a reconnecting client missed', async () => {
    const first = await connect(`${example.url}/events`);
    expect(first.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    await first.waitFor((e) => e.event === 'welcome');
    const id = await publish('one');
    expect((await first.waitFor((e) => e.event === 'headline')).id).toBe(id);
    first.close();

    await publish('two');
    const resumed = await connect(`${example.url}/events`, { 'Last-Event-ID': id });
    const two = await resumed.waitFor((e) => e.event === 'headline');
    expect(JSON.parse(two.data)).toEqual({ headline: 'two' });
    expect(JSON.parse((await resumed.waitFor((e) => e.event === 'welcome')).data)).toEqual({ resumed: true, gap: false });
    resumed.close();
  });

  it('behind compress(), events arrive at once and uncompressed while JSON is gzipped', async () => {
    const info = await fetch(`${example.url}/compressed/info`, { headers: { 'accept-encoding': 'gzip' } });
    expect(info.headers.get('content-encoding')).toBe('gzip');
    const stream = await connect(`${example.url}/compressed/events`, { 'accept-encoding': 'gzip' });
    expect(stream.headers['content-encoding']).toBeUndefined();
    const published = Date.now();
    await publish('fast');
    await stream.waitFor((e) => e.event === 'headline', 1000);
    expect(Date.now() - published).toBeLessThan(1000);
    stream.close();
  });

  it('refuses a client over its address limit with a 429 Response', async () => {
    const open = await Promise.all(Array.from({ length: 20 }, () => connect(`${example.url}/events`)));
    const refused = await fetch(`${example.url}/events`);
    expect([refused.status, refused.headers.get('retry-after')]).toEqual([429, '5']);
    for (const s of open) s.close();
  });

  it('exits cleanly on SIGTERM with a stream open', async () => {
    const open = await connect(`${example.url}/events`);
    expect(await example.stop('SIGTERM')).toBe(0);
    open.close();
  });
});

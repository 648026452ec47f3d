import { assertBuilt, connect, runScript, type RunningScript } from '@ssekit/testkit';

describe('examples/node-http', () => {
  let example: RunningScript;

  beforeAll(async () => {
    assertBuilt(['core']);
    example = await runScript('examples/node-http/server.mjs');
  });

  afterAll(async () => {
    await example?.stop('SIGKILL');
  });

  it('streams the clock and replays what a reconnecting client missed', async () => {
    const first = await connect(`${example.url}/events`);
    expect(first.status).toBe(200);
    expect(first.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    const tick = await first.waitFor((e) => e.event === 'time', 5000);
    expect(tick.id).toEqual(expect.any(String));
    expect(JSON.parse(tick.data)).toEqual({ now: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    first.close();

    // Resume after that event: whether replayed or live, the next one is the very next id
    // (MemoryReplayer ids are `<prefix>-<sequence>`).
    const resumed = await connect(`${example.url}/events`, { 'Last-Event-ID': tick.id! });
    const next = await resumed.waitFor((e) => e.event === 'time', 5000);
    const [prefix, seq] = tick.id!.split('-');
    expect(next.id).toBe(`${prefix}-${Number(seq) + 1}`);
    resumed.close();
  });

  it('answers 404 outside /events and exits cleanly on SIGTERM', async () => {
    const res = await fetch(`${example.url}/`);
    expect(res.status).toBe(404);
    const open = await connect(`${example.url}/events`);
    expect(await example.stop('SIGTERM')).toBe(0);
    open.close();
  });
});

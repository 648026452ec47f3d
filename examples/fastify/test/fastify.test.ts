import { assertBuilt, connect, runScript, type RunningScript } from '@ssekit/testkit';

describe('examples/fastify', () => {
  let example: RunningScript;

  beforeAll(async () => {
    assertBuilt(['core', 'fastify']);
    example = await runScript('examples/fastify/server.mjs');
  });

  afterAll(async () => {
    await example?.stop('SIGKILL');
  });

  it('pipes the token stream in order and ends it', async () => {
    const stream = await connect(`${example.url}/tokens`);
    expect(stream.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    await stream.waitFor((e) => e.event === 'done', 5000);
    const words = stream.events.filter((e) => e.event === 'token').map((e) => e.data);
    expect(words.join(' ')).toBe('Server-Sent Events stream one token at a time');
    stream.close();
  });

  it('streams the clock topic and exits cleanly on SIGTERM with a stream open', async () => {
    const clock = await connect(`${example.url}/clock`);
    const tick = await clock.waitFor((e) => e.event === 'time', 5000);
    expect(JSON.parse(tick.data)).toEqual({ now: expect.any(Number) });
    expect(await example.stop('SIGTERM')).toBe(0);
    clock.close();
  });
});

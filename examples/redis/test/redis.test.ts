import { RedisServer } from '@ssekit/testkit/redis-server';
import { assertBuilt, connect, runScript, type RunningScript } from '@ssekit/testkit';

describe('examples/redis', () => {
  let redis: RedisServer;
  const running: RunningScript[] = [];

  beforeAll(async () => {
    assertBuilt(['core', 'redis']);
    redis = await RedisServer.start();
    process.env.REDIS_PORT = String(redis.port);
    running.push(...(await Promise.all([runScript('examples/redis/server.mjs'), runScript('examples/redis/server.mjs')])));
  });

  afterAll(async () => {
    delete process.env.REDIS_PORT;
    for (const example of running) await example.stop('SIGKILL');
    await redis?.dispose();
  });

  it('delivers a broadcast made on one instance to a client of the other, and resumes on either', async () => {
    const [one, two] = running as [RunningScript, RunningScript];
    const onOne = await connect(`${one.url}/events`);
    const reply = await fetch(`${two.url}/broadcast`, { method: 'POST', body: 'hello' });
    expect(reply.status).toBe(200);
    const { id } = (await reply.json()) as { id: string };
    const got = await onOne.waitFor((e) => e.data === 'hello');
    expect(got.id).toBe(id);
    onOne.close();

    const missed = (await (await fetch(`${one.url}/broadcast`, { method: 'POST', body: 'missed' })).json()) as { id: string };
    const resumed = await connect(`${two.url}/events`, { 'Last-Event-ID': id });
    expect((await resumed.waitFor((e) => e.data === 'missed')).id).toBe(missed.id);
    resumed.close();
  });

  it('exits cleanly on SIGTERM', async () => {
    const open = await connect(`${running[0]!.url}/events`);
    expect(await running[0]!.stop('SIGTERM')).toBe(0);
    open.close();
  });
});

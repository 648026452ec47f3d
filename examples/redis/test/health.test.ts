/**
 * The example's probes against a real redis-server: /readyz turns 503 within a second of Redis
 * stopping and 200 once it is back; /livez answers 200 throughout, and open streams stay open.
 */
import { RedisServer } from '@ssekit/testkit/redis-server';
import { assertBuilt, connect, runScript, waitFor, type RunningScript } from '@ssekit/testkit';

describe('examples/redis probes', () => {
  let redis: RedisServer;
  let app: RunningScript;

  beforeAll(async () => {
    assertBuilt(['core', 'redis']);
    redis = await RedisServer.start();
    app = await runScript('examples/redis/server.mjs', { env: { REDIS_PORT: String(redis.port), NAMESPACE: 'probes' } });
  });

  afterAll(async () => {
    await app?.stop('SIGKILL');
    await redis?.dispose();
  });

  const status = async (path: string): Promise<number> => (await fetch(`${app.url}${path}`)).status;

  /** Milliseconds until `path` answers `want` (asked every 10 ms), failing after `ms`. */
  async function timeUntil(path: string, want: number, ms: number): Promise<number> {
    const started = performance.now();
    await waitFor(async () => (await status(path)) === want, ms, `${path} to answer ${want}`, 10);
    return performance.now() - started;
  }

  it('fails /readyz fast on a Redis blip, keeps /livez and open streams up, and is ready again after', async () => {
    expect(await status('/readyz')).toBe(200);
    expect(await status('/livez')).toBe(200);
    const stream = await connect(`${app.url}/events`);

    await redis.stop();
    try {
      expect(await timeUntil('/readyz', 503, 1000)).toBeLessThan(1000);
      const body = (await (await fetch(`${app.url}/readyz`)).json()) as Record<string, unknown>;
      expect(body).toMatchObject({ ready: false, redis: 'down', reader: 'starting' });
      // Liveness does not depend on Redis: asked through the outage, it stays 200.
      for (let i = 0; i < 5; i++) expect(await status('/livez')).toBe(200);
      expect(stream.open).toBe(true);
    } finally {
      await redis.restart();
    }
    expect(await timeUntil('/readyz', 200, 10_000)).toBeLessThan(10_000);
    expect(await status('/livez')).toBe(200);

    // Ready means it works again: a broadcast reaches the stream that stayed open.
    const reply = await fetch(`${app.url}/broadcast`, { method: 'POST', body: 'back' });
    expect(reply.status).toBe(200);
    const { id } = (await reply.json()) as { id: string };
    expect((await stream.waitFor((e) => e.data === 'back')).id).toBe(id);
    stream.close();
  }, 30_000);
});

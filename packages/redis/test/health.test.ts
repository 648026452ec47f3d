/**
 * `health()` of RedisBroadcaster against a real redis-server: ready after `ready()`, not ready
 * within a bound of the server stopping (or freezing), ready again once it is back, stopped
 * after `close()`; and asking costs no command.
 */
import { RedisBroadcaster } from '@ssekit/redis';
import { waitFor } from '@ssekit/testkit';
import { RedisServer } from '@ssekit/testkit/redis-server';

let redis: RedisServer;
let broadcaster: RedisBroadcaster;

beforeAll(async () => {
  redis = await RedisServer.start();
});

afterAll(async () => {
  await redis?.dispose();
});

beforeEach(async () => {
  broadcaster = new RedisBroadcaster({
    redis: { host: '127.0.0.1', port: redis.port, retryStrategy: () => 50 },
    pingMs: 300,
    timeoutMs: 300,
    onError: () => {},
  });
  await broadcaster.ready();
});

afterEach(async () => {
  await broadcaster.close();
  if (!redis.running) await redis.restart();
});

/** Milliseconds until `check` holds (polled every 5 ms), failing after `ms`. */
async function timeUntil(check: () => boolean, ms: number, what: string): Promise<number> {
  const started = performance.now();
  await waitFor(check, ms, what, 5);
  return performance.now() - started;
}

test('ready after ready(); not ready within 1 s of redis-server stopping; ready again after it restarts', async () => {
  expect(broadcaster.health()).toEqual({ ready: true, redis: 'up', reader: 'running', status: 'ready' });

  await redis.stop();
  const down = await timeUntil(() => !broadcaster.health().ready, 1000, 'not ready');
  expect(down).toBeLessThan(1000);
  expect(broadcaster.health()).toMatchObject({ ready: false, redis: 'down', reader: 'starting' });

  await redis.restart();
  const up = await timeUntil(() => broadcaster.health().ready, 5000, 'ready again');
  expect(up).toBeLessThan(5000);
  expect(broadcaster.health()).toEqual({ ready: true, redis: 'up', reader: 'running', status: 'ready' });
  // Ready means it works: a broadcast is taken.
  await expect(broadcaster.broadcast({ data: 'back' })).resolves.toMatchObject({ data: 'back' });
}, 20_000);

test('a frozen redis-server (no close) turns it not ready through the reader\'s PING: within pingMs + timeoutMs of quiet', async () => {
  const child = redis.process!.child;
  child.kill('SIGSTOP');
  try {
    // Quiet for pingMs (300), PING unanswered for timeoutMs (300), checked every pingMs / 2:
    // 750 ms at worst, plus scheduling slack on a busy machine.
    const down = await timeUntil(() => !broadcaster.health().ready, 2000, 'not ready');
    expect(down).toBeLessThan(1500);
    expect(broadcaster.health()).toMatchObject({ ready: false, reader: 'starting' });
  } finally {
    child.kill('SIGCONT');
  }
  await timeUntil(() => broadcaster.health().ready, 5000, 'ready again');
}, 20_000);

test('asking is free: a thousand health() calls send no command to Redis', async () => {
  const admin = redis.client();
  try {
    // Commands processed, our own INFO left out.
    const processed = async (): Promise<number> => {
      const stats = (await admin.info('commandstats')) as string;
      let calls = 0;
      for (const [, name, count] of stats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) if (name !== 'info') calls += Number(count);
      return calls;
    };
    const before = await processed();
    for (let i = 0; i < 1000; i++) broadcaster.health();
    // At most one PING of the reader's (every 300 ms of quiet) can fall in the window.
    expect((await processed()) - before).toBeLessThanOrEqual(1);
  } finally {
    admin.disconnect();
  }
});

test('stopped after close(); not ready while never connected', async () => {
  await broadcaster.close();
  expect(broadcaster.health()).toMatchObject({ ready: false, redis: 'down', reader: 'stopped' });

  const nowhere = new RedisBroadcaster({ redis: { host: '127.0.0.1', port: 1, retryStrategy: () => 100 }, timeoutMs: 200, onError: () => {} });
  try {
    expect(nowhere.health()).toMatchObject({ ready: false, redis: 'down', reader: 'starting' });
  } finally {
    await nowhere.close();
  }
});

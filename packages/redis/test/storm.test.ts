/**
 * Reconnect storms on a real redis-server: identical concurrent replays are served by one read,
 * and replays beyond the concurrency bound wait in a queue instead of failing.
 */
import { RedisBroadcaster } from '@ssekit/redis';
import { commandCalls, delta } from './app';
import { RedisServer } from '@ssekit/testkit/redis-server';

let redis: RedisServer;
let broadcaster: RedisBroadcaster;

beforeAll(async () => {
  redis = await RedisServer.start();
  broadcaster = new RedisBroadcaster({ redis: { host: '127.0.0.1', port: redis.port }, namespace: 'storm', maxConcurrentReplays: 2, onError: () => {} });
  await broadcaster.ready();
});

afterAll(async () => {
  await broadcaster?.close();
  await redis?.dispose();
});

test('200 identical replays at once (same id, same topics) are served by one read', async () => {
  const start = await broadcaster.broadcastTo('shared', { data: 'seen' });
  for (let i = 0; i < 5; i++) await broadcaster.broadcastTo(i % 2 ? 'shared' : 'mine', { data: i });
  const calls = await commandCalls(redis);
  const gate = broadcaster.stats().replays;
  const received: string[][] = Array.from({ length: 200 }, () => []);
  const results = await Promise.all(
    received.map((list) => broadcaster.replay(start.id, (event) => void list.push(event.data as string), { topics: ['shared'] })),
  );
  const used = delta(calls, await commandCalls(redis));
  expect(results.every((r) => r.count === 2 && !r.gap)).toBe(true);
  expect(received.every((list) => list.join() === '1,3')).toBe(true);
  expect((used.evalsha ?? 0) + (used.eval ?? 0)).toBe(1);
  const after = broadcaster.stats().replays;
  expect(after.reads - gate.reads).toBe(1);
  expect(after.requests - gate.requests).toBe(200);
  // Same id with other topics is another read.
  await Promise.all([
    broadcaster.replay(start.id, () => undefined, { topics: ['shared'] }),
    broadcaster.replay(start.id, () => undefined, { topics: ['shared', 'mine'] }),
  ]);
  expect(broadcaster.stats().replays.reads - after.reads).toBe(2);
});

test('beyond maxConcurrentReplays, replays wait in a queue and all succeed', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 30; i++) ids.push((await broadcaster.broadcastTo(`q${i}`, { data: i })).id);
  const pending = ids.map((id, i) => broadcaster.replay(id, () => undefined, { topics: [`q${i}`, 'q29'] }));
  // The gate starts reads on the next turn of the event loop: then two run, the rest wait.
  await new Promise((resolve) => setImmediate(resolve));
  const { active, queued } = broadcaster.stats().replays;
  expect(active).toBe(2);
  expect(queued).toBe(28);
  const results = await Promise.all(pending);
  expect(results.every((r) => !r.gap)).toBe(true);
  expect(results.map((r) => r.count)).toEqual(ids.map((_, i) => (i === 29 ? 0 : 1)));
  expect(broadcaster.stats().replays).toMatchObject({ active: 0, queued: 0 });
});

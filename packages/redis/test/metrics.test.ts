/**
 * The `metrics` option of RedisBroadcaster, read back from a real OpenTelemetry SDK (an
 * in-memory exporter) against a real redis-server: the reader's lag, catch-ups by outcome,
 * and errors by operation when the subscriber connection is dropped and when redis-server stops.
 */
import { createServer, type Server } from 'node:http';
import { SseOptionsError, createSseHandler, type SseHandler } from '@ssekit/core';
import { RedisBroadcaster, type RedisBroadcasterOptions } from '@ssekit/redis';
import { connect, listen, waitFor, type SseClient } from '@ssekit/testkit';
import { memoryMetrics, type MemoryMetrics } from '@ssekit/testkit/metrics';
import { RedisServer } from '@ssekit/testkit/redis-server';

let redis: RedisServer;

beforeAll(async () => {
  redis = await RedisServer.start();
});

afterAll(async () => {
  await redis?.dispose();
});

describe('with a meter', () => {
  let otel: MemoryMetrics;
  let broadcaster: RedisBroadcaster;
  let handler: SseHandler;
  let server: Server;
  let url: string;
  const clients: SseClient[] = [];

  async function start(options: Partial<RedisBroadcasterOptions>, namespace: string): Promise<void> {
    otel = memoryMetrics();
    broadcaster = new RedisBroadcaster({
      // The subscriber paces its reconnections by this too: a dropped reader is away 1 s.
      redis: { host: '127.0.0.1', port: redis.port, retryStrategy: () => 1000 },
      namespace,
      pingMs: 500,
      timeoutMs: 500,
      onError: () => {},
      metrics: otel.meter,
      ...options,
    });
    handler = createSseHandler({ hub: broadcaster, replayer: broadcaster, heartbeatMs: 0 });
    server = createServer((req, res) => {
      const topics = new URL(req.url ?? '/', 'http://x').searchParams.getAll('topic');
      void handler.open(req, res, { topics });
    });
    url = `${(await listen(server)).url}/`;
    await broadcaster.ready();
  }

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await handler.close();
    await broadcaster.close();
    await new Promise((resolve) => server.close(resolve));
  });

  async function open(query: string, headers?: Record<string, string>): Promise<SseClient> {
    const count = broadcaster.connectionCount();
    const client = await connect(`${url}${query}`, headers);
    clients.push(client);
    await waitFor(() => broadcaster.connectionCount() > count, 2000, 'registration');
    return client;
  }

  /** Drops the reader's connection (the command connection stays) and waits for the break. */
  async function dropReader(): Promise<void> {
    const breaks = broadcaster.stats().subscriberBreaks;
    const admin = redis.client();
    try {
      await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    } finally {
      admin.disconnect();
    }
    await waitFor(() => broadcaster.stats().subscriberBreaks > breaks, 2000, 'the reader to see the break');
  }

  const lag = async (): Promise<{ count: number; sum: number }> => {
    const point = (await otel.read()).get('ssekit.redis.reader.lag')?.[0];
    return { count: point?.count ?? 0, sum: point?.value ?? 0 };
  };

  test('reader lag per delivered event; catch-ups after a break by outcome; the break as a connection error', async () => {
    await start({ maxLen: 2, exactTrim: true }, 'lag');
    const client = await open('?topic=a');
    for (const data of ['one', 'two', 'three']) await broadcaster.broadcastTo('a', { data });
    await client.take(3);
    // Every live delivery is recorded, each well under the bound of a local Redis.
    const live = await lag();
    expect(live.count).toBe(3);
    expect(live.sum).toBeGreaterThanOrEqual(0);
    expect(live.sum).toBeLessThan(3 * 0.5);
    expect((await otel.read()).get('ssekit.redis.errors')).toBeUndefined();

    // One event while the reader is away (kept: maxLen 2): the catch-up delivers it, and its
    // lag counts from when it was stored, so it includes the second the reader was away.
    await dropReader();
    const missed = await broadcaster.broadcastTo('a', { data: 'missed' });
    expect((await client.take(1))[0]!.id).toBe(missed.id);
    await waitFor(() => broadcaster.health().ready, 5000, 'the reader to be live again');
    const after = await lag();
    expect(after.count).toBe(4);
    expect(after.sum - live.sum).toBeGreaterThan(0.5);
    expect(await otel.value('ssekit.redis.catchups', { outcome: 'ok' })).toBe(1);
    expect(await otel.value('ssekit.redis.errors', { operation: 'connection' })).toBe(1);

    // Three while it is away again: the stream keeps two, so one the instance never delivered
    // is gone; the catch-up closes the stream so its client resumes and learns of the gap.
    await dropReader();
    for (const data of ['x', 'y', 'z']) await broadcaster.broadcastTo('a', { data });
    await waitFor(() => !client.open, 5000, 'the stream to be closed for the gap');
    expect(await otel.value('ssekit.redis.catchups', { outcome: 'gap' })).toBe(1);
    expect(await otel.value('ssekit.redis.catchups', { outcome: 'ok' })).toBe(1);
    expect(await otel.value('ssekit.redis.errors', { operation: 'connection' })).toBe(2);
    expect((await otel.read()).get('ssekit.redis.errors')!.map((p) => p.attributes)).toEqual([{ operation: 'connection' }]);
  }, 20_000);

  test('stopping redis-server counts connection, publish and replay errors; nothing after it is back', async () => {
    await start({ redis: { host: '127.0.0.1', port: redis.port, retryStrategy: () => 50 } }, 'stop');
    const client = await open('?topic=a');
    const first = await broadcaster.broadcastTo('a', { data: 'first' });
    await client.take(1);

    await redis.stop();
    try {
      // The reader's lost connection is counted at once, then each failed attempt to reopen it.
      await waitFor(async () => (await otel.value('ssekit.redis.errors', { operation: 'connection' })) >= 1, 2000, 'a connection error');
      await waitFor(() => !broadcaster.health().ready, 1000, 'not ready');
      // Every broadcast Redis does not take is counted once.
      const results = await Promise.allSettled([1, 2, 3].map((n) => broadcaster.broadcastTo('a', { data: `during ${n}` })));
      expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
      expect(await otel.value('ssekit.redis.errors', { operation: 'publish' })).toBe(3);
      // A resuming client's replay cannot read Redis: counted once (and the client gets a gap).
      await expect(broadcaster.replay(first.id, () => undefined, { topics: ['a'] })).rejects.toMatchObject({ code: 'unavailable' });
      expect(await otel.value('ssekit.redis.errors', { operation: 'replay' })).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await otel.value('ssekit.redis.errors', { operation: 'connection' })).toBeGreaterThan(1);
    } finally {
      await redis.restart();
    }
    await waitFor(() => broadcaster.health().ready, 10_000, 'ready again');
    const settled = await otel.read();
    await broadcaster.broadcastTo('a', { data: 'back' });
    await broadcaster.replay(first.id, () => undefined, { topics: ['a'] });
    const now = await otel.read();
    // Success adds no error, and every error point has one of the documented operations.
    expect(now.get('ssekit.redis.errors')).toEqual(settled.get('ssekit.redis.errors'));
    for (const point of now.get('ssekit.redis.errors')!) {
      expect(['publish', 'replay', 'subscribe', 'catchup', 'connection']).toContain(point.attributes['operation']);
    }
  }, 30_000);
});

test('two broadcasters on one meter record into the same instruments; a meter that is not one is refused', async () => {
  const otel = memoryMetrics();
  const options = { redis: { host: '127.0.0.1', port: redis.port }, namespace: 'shared', metrics: otel.meter };
  const a = new RedisBroadcaster(options);
  const b = new RedisBroadcaster(options);
  try {
    await Promise.all([a.ready(), b.ready()]);
    await a.broadcast({ data: 'x' });
    await waitFor(async () => ((await otel.read()).get('ssekit.redis.reader.lag')?.[0]?.count ?? 0) === 2, 2000, 'both instances to deliver');
  } finally {
    await a.close();
    await b.close();
  }
  expect(() => new RedisBroadcaster({ redis: { host: '127.0.0.1', port: redis.port }, metrics: {} as never })).toThrow(SseOptionsError);
});

test("a handler's metrics count the events a RedisBroadcaster hub delivers on this instance, from both instances' broadcasts", async () => {
  const otel = memoryMetrics();
  const redisOptions = { host: '127.0.0.1', port: redis.port };
  const local = new RedisBroadcaster({ redis: redisOptions, namespace: 'deliveries' });
  const other = new RedisBroadcaster({ redis: redisOptions, namespace: 'deliveries' });
  const handler = createSseHandler({ hub: local, replayer: local, heartbeatMs: 0, metrics: otel.meter });
  const server = createServer((req, res) => {
    const topics = new URL(req.url ?? '/', 'http://x').searchParams.getAll('topic');
    void handler.open(req, res, { topics });
  });
  const clients: SseClient[] = [];
  try {
    const url = `${(await listen(server)).url}/`;
    await Promise.all([local.ready(), other.ready()]);
    clients.push(await connect(`${url}?topic=a`), await connect(`${url}?topic=a`), await connect(`${url}?topic=b`));
    await waitFor(() => local.connectionCount() === 3, 2000, 'registration');
    await local.broadcastTo('a', { data: 'one' });
    await other.broadcastTo('a', { data: 'two' });
    await other.broadcast({ data: 'everyone' });
    // A topic nobody here subscribes to is not received, so not counted.
    await other.broadcastTo('c', { data: 'elsewhere' });
    await Promise.all([clients[0]!.take(3), clients[1]!.take(3), clients[2]!.take(1)]);
    expect(await otel.value('ssekit.events.broadcast')).toBe(3);
    expect(await otel.value('ssekit.events.delivered')).toBe(7);
  } finally {
    for (const client of clients) client.close();
    await handler.close();
    await Promise.all([local.close(), other.close()]);
    await new Promise((resolve) => server.close(resolve));
  }
});

test('a broadcast made while Redis was never reached counts as a publish error', async () => {
  // A port a redis-server just left: nothing answers there.
  const gone = await RedisServer.start();
  const port = gone.port;
  await gone.dispose();
  const otel = memoryMetrics();
  const broadcaster = new RedisBroadcaster({
    redis: { host: '127.0.0.1', port, retryStrategy: () => 100 },
    namespace: 'never',
    timeoutMs: 200,
    onError: () => {},
    metrics: otel.meter,
  });
  try {
    await expect(broadcaster.broadcast({ data: 'x' })).rejects.toMatchObject({ code: 'unavailable', stored: false });
    await expect(broadcaster.broadcastTo('a', { data: 'y' })).rejects.toMatchObject({ code: 'unavailable' });
    expect(await otel.value('ssekit.redis.errors', { operation: 'publish' })).toBe(2);
    expect(broadcaster.health().ready).toBe(false);
  } finally {
    await broadcaster.close();
  }
});

/**
 * Ownership and release of Redis connections, option validation, and RedisReplayer.
 */
import { createServer } from 'node:http';
import { Hub, SseFormatError, SseOptionsError, createSseHandler, type StoredEvent } from '@ssekit/core';
import { RedisBroadcaster, RedisReplayer } from '@ssekit/redis';
import { connect, listen, waitFor } from '@ssekit/testkit';
import { RedisServer } from '@ssekit/testkit/redis-server';

let redis: RedisServer;

beforeAll(async () => {
  redis = await RedisServer.start();
});

afterAll(async () => {
  await redis?.dispose();
});

const options = () => ({ host: '127.0.0.1', port: redis.port });

test('close() releases both connections it created (CLIENT LIST)', async () => {
  const broadcaster = new RedisBroadcaster({ redis: options(), namespace: 'close' });
  await broadcaster.ready();
  expect((await redis.clientNames()).sort()).toEqual(['ssekit', 'ssekit:sub']);
  await broadcaster.close();
  await broadcaster.close();
  await waitFor(async () => (await redis.clientNames()).length === 0, 2000, 'connections to close');
  await expect(broadcaster.broadcast({ data: 'x' })).rejects.toMatchObject({ code: 'unavailable', stored: false });
});

test('a client passed in stays open; only the subscriber connection is closed', async () => {
  const app = redis.client();
  await app.client('SETNAME', 'app');
  const broadcaster = new RedisBroadcaster({ redis: app, namespace: 'given' });
  await broadcaster.ready();
  expect((await redis.clientNames()).sort()).toEqual(['app', 'ssekit:sub']);
  await broadcaster.close();
  await waitFor(async () => (await redis.clientNames()).join() === 'app', 2000, 'the subscriber to close');
  expect(await app.ping()).toBe('PONG');
  app.disconnect();
});

test('close() during an outage returns promptly, and a broadcaster that never connected closes too', async () => {
  const broadcaster = new RedisBroadcaster({ redis: { ...options(), retryStrategy: () => 100 }, onError: () => {} });
  await broadcaster.ready();
  await redis.kill();
  try {
    const started = Date.now();
    await broadcaster.close();
    expect(Date.now() - started).toBeLessThan(1000);
  } finally {
    await redis.restart();
  }
  const nowhere = new RedisBroadcaster({ redis: { host: '127.0.0.1', port: 1, retryStrategy: () => 100 }, timeoutMs: 200, onError: () => {} });
  const ready = nowhere.ready().then(
    () => 'ready',
    (error: unknown) => error,
  );
  await expect(nowhere.broadcast({ data: 'x' })).rejects.toMatchObject({ code: 'unavailable', stored: false });
  await nowhere.close();
  expect(await ready).toMatchObject({ code: 'unavailable' });
});

test('keys use a {namespace} hash tag; events are validated before anything is sent', async () => {
  const broadcaster = new RedisBroadcaster({ redis: options(), namespace: 'tenant-1' });
  try {
    expect(broadcaster.streamKey('t')).toBe('ssekit:{tenant-1}:t:t');
    expect(broadcaster.streamKey()).toBe('ssekit:{tenant-1}:all');
    await expect(broadcaster.broadcast({ event: 'a\nb', data: 'x' })).rejects.toBeInstanceOf(SseFormatError);
    await expect(broadcaster.broadcastTo('', { data: 'x' })).rejects.toBeInstanceOf(SseFormatError);
    const admin = redis.client();
    expect(await admin.keys('ssekit:{tenant-1}:*')).toEqual([]);
    const stored = await broadcaster.broadcastTo('t', { event: 'update', data: { n: 1 } });
    expect(await admin.xrange(broadcaster.streamKey('t'), '-', '+')).toEqual([[stored.id, ['ssekit', '2', 'body', 'event: update\ndata: {"n":1}\n\n']]]);
    expect(await admin.hgetall('ssekit:{tenant-1}:meta')).toEqual({ clock: stored.id, origin: stored.id });
    expect(Number(await admin.pttl(broadcaster.streamKey('t')))).toBeGreaterThan(86_000_000);
    expect(await admin.exists(broadcaster.streamKey())).toBe(0);
    admin.disconnect();
  } finally {
    await broadcaster.close();
  }
});

test.each([2, 3] as const)('works over RESP%i: live delivery and replay', async (protocol) => {
  const broadcaster = new RedisBroadcaster({ redis: { ...options(), protocol }, namespace: `resp${protocol}` });
  const handler = createSseHandler({ hub: broadcaster, replayer: broadcaster, heartbeatMs: 0 });
  const server = createServer((req, res) => void handler.open(req, res));
  try {
    const url = `${(await listen(server)).url}/`;
    await broadcaster.ready();
    const live = await connect(url);
    expect(live.status).toBe(200);
    await waitFor(() => broadcaster.connectionCount() === 1, 2000, 'registration');
    const one = await broadcaster.broadcast({ data: 'one' });
    const two = await broadcaster.broadcast({ event: 'e', data: 'two' });
    expect(await live.take(2)).toEqual([
      { id: one.id, event: undefined, data: 'one' },
      { id: two.id, event: 'e', data: 'two' },
    ]);
    live.close();
    const resumed = await connect(url, { 'last-event-id': one.id });
    expect(resumed.status).toBe(200);
    expect(await resumed.take(1)).toEqual([{ id: two.id, event: 'e', data: 'two' }]);
    resumed.close();
  } finally {
    await handler.close();
    await broadcaster.close();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('invalid options, unknown keys and the options 0.2 removed are rejected at construction', () => {
  expect(() => new RedisBroadcaster({ redis: options(), maxLen: 0 })).toThrow(SseOptionsError);
  expect(() => new RedisBroadcaster({ redis: options(), ttlMs: -1 })).toThrow(SseOptionsError);
  expect(() => new RedisBroadcaster({ redis: options(), maxReplayEvents: 0 })).toThrow(SseOptionsError);
  expect(() => new RedisBroadcaster({ redis: options(), stream: 'x' } as never)).toThrow(/namespace/);
  expect(() => new RedisReplayer({ redis: options(), pingMs: 5 } as never)).toThrow(SseOptionsError);
  expect(() => new RedisBroadcaster({ redis: options(), namespace: 'a}b' })).toThrow(SseOptionsError);
  expect(() => new RedisReplayer({ redis: undefined as never })).toThrow(SseOptionsError);
  // A misspelt option is named, with the one it probably meant, before any connection is made.
  expect(() => new RedisBroadcaster({ redis: options(), maxlen: 10 } as never)).toThrow('Invalid option "maxlen": unknown option (did you mean maxLen?)');
  expect(() => new RedisReplayer({ redis: options(), blockMs: 10 } as never)).toThrow(expect.objectContaining({ code: 'options', option: 'blockMs' }));
  expect(() => new RedisBroadcaster({ redis: options(), onErorr: () => undefined } as never)).toThrow(/did you mean onError\?/);
});

test('RedisReplayer stores with stream ids and replays by topic, with gaps for unknown ids', async () => {
  const replayer = new RedisReplayer({ redis: options(), namespace: 'replay', maxLen: 3, exactTrim: true });
  try {
    const a = await replayer.store({ data: 'a' });
    const a2 = await replayer.store({ data: 'a2' });
    const b = await replayer.store({ data: 'b', event: 'x' }, 'news');
    const c = await replayer.store({ data: 'c' }, 'sports');
    const d = await replayer.store({ data: 'line1\nline2' });
    await replayer.store({ data: 'e' });
    await replayer.store({ data: 'f' });
    const sent: StoredEvent[] = [];
    const wire: string[] = [];
    const send = (event: StoredEvent, bytes: Uint8Array) => {
      sent.push(event);
      wire.push(Buffer.from(bytes).toString());
    };
    // maxLen 3 per stream: the untargeted one (a, a2, d, e, f) lost a and a2. Resuming after a
    // misses a2: a gap, and nothing is sent. After a2, everything missed is still there.
    expect(await replayer.replay(a.id, send)).toEqual({ count: 0, gap: true });
    expect(await replayer.replay(a2.id, () => undefined)).toEqual({ count: 5, gap: false });
    expect(await replayer.replay(b.id, send, { topics: ['news'] })).toEqual({ count: 3, gap: false });
    expect(sent[0]).toEqual({ id: d.id, data: 'line1\nline2' });
    expect(wire[0]).toBe(`id: ${d.id}\ndata: line1\ndata: line2\n\n`);
    expect(await replayer.replay(b.id, () => undefined)).toEqual({ count: 4, gap: false });
    expect(await replayer.replay(c.id, () => undefined, { topics: [] })).toEqual({ count: 3, gap: false });
    expect(await replayer.replay(d.id, () => undefined, { topics: ['news', 'sports'] })).toEqual({ count: 2, gap: false });
    expect(await replayer.replay('garbage', () => undefined)).toEqual({ count: 0, gap: true });

    // The pattern for one process: store, then broadcast the stored event on a local hub.
    const hub = new Hub();
    const stored = await replayer.store({ data: 'e' });
    expect(hub.broadcast(stored)).toEqual(stored);
  } finally {
    await replayer.close();
  }
  await waitFor(async () => (await redis.clientNames()).length === 0, 2000, 'the replayer to close');
});

test('a stream opened with replay: false neither exposes Last-Event-ID nor waits for the subscription to reach it', async () => {
  // Redis is down while the streams open, so the subscription has not started: a registration
  // that waits for it to deliver the client's id would hold for timeoutMs (30 s here).
  await redis.kill();
  const broadcaster = new RedisBroadcaster({ redis: { ...options(), retryStrategy: () => 50 }, namespace: 'no-replay', timeoutMs: 30_000, onError: () => {} });
  const handler = createSseHandler({ hub: broadcaster, replayer: broadcaster, heartbeatMs: 0 });
  const opened: { replay: boolean; lastEventId: string | undefined }[] = [];
  const server = createServer((req, res) => {
    const replay = !req.url!.includes('replay=false');
    void handler.open(req, res, { replay }).then((conn) => opened.push({ replay, lastEventId: conn.lastEventId }), () => res.destroy());
  });
  try {
    const url = `${(await listen(server)).url}/`;
    // First a stream that resumes: its headers are out, its registration waits for the subscription.
    await connect(url, { 'last-event-id': '1-0' });
    // Then one that asked not to: it opens and registers at once, although it came later.
    await connect(`${url}?replay=false`, { 'last-event-id': '1-0' });
    await waitFor(() => opened.length === 1, 2000, 'the replay: false stream to open');
    expect(opened).toEqual([{ replay: false, lastEventId: undefined }]);
    expect(broadcaster.connectionCount()).toBe(1);
    // Once Redis is back the subscription starts, and the resuming stream registers too.
    await redis.restart();
    await waitFor(() => opened.length === 2, 10_000, 'the resuming stream to open');
    expect(opened[1]).toEqual({ replay: true, lastEventId: '1-0' });
    expect(broadcaster.connectionCount()).toBe(2);
  } finally {
    await handler.close();
    await broadcaster.close();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('an in-memory Hub refuses a Redis replayer or broadcaster as its replayer at setup, with what to do instead', async () => {
  const replayer = new RedisReplayer({ redis: options(), namespace: 'hub-setup' });
  const broadcaster = new RedisBroadcaster({ redis: options(), namespace: 'hub-setup' });
  try {
    for (const given of [replayer, broadcaster]) {
      // As plain JavaScript would: the types already refuse it.
      const attempt = () => new Hub({ replayer: given as never });
      expect(attempt).toThrow(SseOptionsError);
      expect(attempt).toThrow(/store\(\) is synchronous.*RedisBroadcaster as hub and replayer/);
    }
    // Given to the adapter instead, the replayer serves replays next to an in-memory hub.
    const hub = new Hub();
    const handler = createSseHandler({ hub, replayer });
    await handler.close();
  } finally {
    await replayer.close();
    await broadcaster.close();
  }
});

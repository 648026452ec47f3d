/**
 * Redis goes away and comes back (persistence off, so it comes back empty): instances stay up,
 * streams stay open, broadcasts during the outage reject at once and were not stored, and
 * delivery resumes afterwards without skipping anything.
 */
import { createServer, type Server } from 'node:http';
import { createSseHandler, SseUnavailableError, type SseHandler } from '@ssekit/core';
import { RedisBroadcaster, RedisUnavailableError } from '@ssekit/redis';
import { connect as openStream, listen, waitFor, type SseClient } from '@ssekit/testkit';
import { RedisServer } from '@ssekit/testkit/redis-server';
import { Instance, START_TIMEOUT_MS } from './instances';

let redis: RedisServer;
const clients: SseClient[] = [];

beforeAll(async () => {
  redis = await RedisServer.start();
});

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

afterAll(async () => {
  await redis?.dispose();
});

test('instances survive a Redis restart: streams stay open, outage broadcasts reject, delivery resumes', async () => {
  const [a, b] = await Promise.all([Instance.start(redis.port), Instance.start(redis.port)]);
  try {
    const onA = await a.connect();
    const onB = await b.connect();
    clients.push(onA, onB);
    const before = await b.broadcast({ data: 'before' });
    expect((await onA.take(1))[0]!.id).toBe(before.body.id);
    await onB.take(1);

    await redis.kill();
    // A broadcast written before the instance has seen the connection drop ends `stored:
    // 'unknown'` (Redis might have taken it); once the drop is seen, broadcasts are refused
    // before anything is sent: `stored: false`. Every answer comes at once.
    for (const instance of [b, a]) {
      await waitFor(async () => {
        const started = Date.now();
        const reply = await instance.broadcast({ data: 'during' });
        expect(Date.now() - started).toBeLessThan(1500);
        expect(reply.status).toBe(503);
        expect(reply.body).toMatchObject({ name: 'RedisUnavailableError', code: 'unavailable' });
        return reply.body.stored === false;
      }, 5000, 'a broadcast refused with stored: false');
    }
    expect(onA.open && onB.open && a.alive && b.alive).toBe(true);

    await redis.restart();
    // The first broadcast that succeeds on each instance after the restart; the failed
    // attempts were not stored, so clients must see exactly these two.
    const after = await firstAccepted(b, 'after');
    const next = await firstAccepted(a, 'next');

    for (const client of [onA, onB]) {
      expect(await client.take(2, 10_000)).toEqual([
        { id: after, event: undefined, data: 'after' },
        { id: next, event: undefined, data: 'next' },
      ]);
      expect(client.rest()).toEqual([]);
    }
    // The restarted Redis lost the stream: an id from before is a gap, not a silent resume.
    const resumed = await a.connect([], before.body.id);
    clients.push(resumed);
    expect((await resumed.take(1))[0]!.event).toBe('ssekit-reset');
    expect(a.alive && b.alive).toBe(true);
    expect(await a.close()).toBe(0);
    expect(await b.close()).toBe(0);
  } finally {
    a.kill();
    b.kill();
  }
}, START_TIMEOUT_MS + 20_000);

async function firstAccepted(instance: Instance, data: string): Promise<string> {
  let id: string | undefined;
  await waitFor(async () => {
    const reply = await instance.broadcast({ data });
    if (reply.status === 200) id = reply.body.id;
    else expect(reply.body.stored).toBe(false);
    return id !== undefined;
  }, 10_000, 'a broadcast to succeed after the restart');
  return id!;
}

describe('in one process', () => {
  let broadcaster: RedisBroadcaster;
  let handler: SseHandler;
  let server: Server;
  let url: string;
  const errors: Error[] = [];

  beforeEach(async () => {
    broadcaster = new RedisBroadcaster({
      redis: { host: '127.0.0.1', port: redis.port, retryStrategy: () => 50 },
      pingMs: 500,
      timeoutMs: 500,
      onError: (error) => errors.push(error),
    });
    handler = createSseHandler({ hub: broadcaster, replayer: broadcaster, heartbeatMs: 0 });
    server = createServer((req, res) => void handler.open(req, res));
    url = `${(await listen(server)).url}/`;
    await broadcaster.ready();
  });

  afterEach(async () => {
    await handler.close();
    await broadcaster.close();
    await new Promise((resolve) => server.close(resolve));
  });

  async function connect(): Promise<SseClient> {
    const count = broadcaster.connectionCount();
    const client = await openStream(url);
    expect(client.status).toBe(200);
    clients.push(client);
    await waitFor(() => broadcaster.connectionCount() > count, 2000, 'registration');
    return client;
  }

  test('a broadcast during an outage rejects with an SseUnavailableError saying it was not stored', async () => {
    await redis.kill();
    try {
      // As soon as the drop is seen (the first attempt may still be written: `unknown`).
      await waitFor(async () => {
        const error = await broadcaster.broadcast({ data: 'x' }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(SseUnavailableError);
        expect(error).toBeInstanceOf(RedisUnavailableError);
        expect(error).toMatchObject({ code: 'unavailable' });
        return (error as RedisUnavailableError).stored === false;
      }, 5000, 'a broadcast refused with stored: false');
      // A replay cannot read either: it rejects (withReplay turns that into a gap).
      await expect(broadcaster.replay('1-0', () => undefined)).rejects.toBeInstanceOf(RedisUnavailableError);
    } finally {
      await redis.restart();
    }
    await waitFor(async () => (await broadcaster.broadcast({ data: 'back' }).then(() => true, () => false)), 10_000, 'reconnection');
    expect(errors.length).toBeGreaterThan(0);
  }, 20_000);

  /**
   * Drops the broadcaster's subscriber connection and waits until it is back and has caught up
   * (`caughtUp` says when: a reconnection of its own, after a slow PING, may come first).
   */
  async function reconnectSubscriber(caughtUp: () => boolean): Promise<void> {
    const admin = redis.client();
    try {
      await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    } finally {
      admin.disconnect();
    }
    await waitFor(caughtUp, 5000, 'the subscriber to catch up');
  }

  test('a history whose clock went back (a snapshot that lost its tail): new ids still come after every id handed out, and older ids resume as gaps', async () => {
    const client = await connect();
    const first = await broadcaster.broadcast({ data: 'first' });
    await client.take(1);
    const admin = redis.client();
    try {
      await admin.del(broadcaster.streamKey());
      await admin.hset('ssekit:{default}:meta', 'clock', '5-1', 'origin', '5-1');
    } finally {
      admin.disconnect();
    }
    // The catch-up finds the clock behind the id this instance handed out: a restart.
    await reconnectSubscriber(() => broadcaster.stats().restarts === 1);
    // The stream had received everything up to the newest id: it stays open.
    const later = await broadcaster.broadcast({ data: 'later' });
    expect(compareIds(later.id, first.id)).toBeGreaterThan(0);
    expect(await client.take(1)).toEqual([{ id: later.id, event: undefined, data: 'later' }]);
    expect(await broadcaster.replay(first.id, () => undefined)).toEqual({ count: 0, gap: true });
    expect(await broadcaster.replay(later.id, () => undefined)).toEqual({ count: 0, gap: false });
  });

  test('a history restored without its newest events: an instance that delivered them keeps its streams and repeats nothing', async () => {
    const client = await connect();
    const sent = [];
    for (const data of ['one', 'two', 'three']) sent.push((await broadcaster.broadcast({ data })).id);
    await client.take(3);
    const admin = redis.client();
    try {
      await admin.xdel(broadcaster.streamKey(), sent[2]!);
      await admin.hset('ssekit:{default}:meta', 'clock', sent[1]!);
    } finally {
      admin.disconnect();
    }
    await reconnectSubscriber(() => broadcaster.stats().restarts === 1);
    const four = await broadcaster.broadcast({ data: 'four' });
    expect(compareIds(four.id, sent[2]!)).toBeGreaterThan(0);
    expect(await client.take(1)).toEqual([{ id: four.id, event: undefined, data: 'four' }]);
    expect(client.rest()).toEqual([]);
    // A client that had only `two` missed `three`, which is gone: a gap.
    expect(await broadcaster.replay(sent[1]!, () => undefined)).toEqual({ count: 0, gap: true });
  });
});

function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint];
  return am === bm ? Number(as - bs) : Number(am - bm);
}

test('a subscription that was down while its history was trimmed ends its streams, and the clients learn of the gap on resume', async () => {
  const make = (name: string) =>
    new RedisBroadcaster({
      redis: { host: '127.0.0.1', port: redis.port, connectionName: name, retryStrategy: () => 300 },
      namespace: 'behind',
      maxLen: 5,
      exactTrim: true,
      onError: () => {},
    });
  const a = make('behindA');
  const b = make('behindB');
  const handler = createSseHandler({ hub: a, replayer: a, heartbeatMs: 0, resetEvent: true });
  const server = createServer((req, res) => void handler.open(req, res));
  try {
    const url = `${(await listen(server)).url}/`;
    await Promise.all([a.ready(), b.ready()]);
    const client = await openStream(url);
    expect(client.status).toBe(200);
    clients.push(client);
    await waitFor(() => a.connectionCount() === 1, 2000, 'registration');
    const seen = await b.broadcast({ data: 'seen' });
    expect((await client.take(1))[0]!.id).toBe(seen.id);

    // A's subscriber is away (300 ms) while B broadcasts more than the stream retains.
    await redis.killClient('behindA:sub');
    for (let i = 0; i < 8; i++) await b.broadcast({ data: `lost${i}` });

    await waitFor(() => !client.open, 5000, 'A to end its stream');
    // What A could still read was not delivered as if nothing happened; the client resumes
    // after its last id and is told of the gap.
    const resumed = await openStream(url, { 'last-event-id': seen.id });
    expect(resumed.status).toBe(200);
    clients.push(resumed);
    expect((await resumed.take(1))[0]).toEqual({ id: undefined, event: 'ssekit-reset', data: 'gap' });
  } finally {
    await handler.close();
    await Promise.all([a.close(), b.close()]);
    await new Promise((resolve) => server.close(resolve));
  }
});

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
      blockMs: 500,
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

  test('after the stream is replaced by one whose ids run behind, the reader starts it from the beginning', async () => {
    const client = await connect();
    const first = await broadcaster.broadcast({ data: 'first' });
    await client.take(1);
    const admin = redis.client();
    try {
      await admin.del(broadcaster.stream);
      await admin.xadd(broadcaster.stream, '5-1', 'ssekit', '1', 'body', 'data: behind\n\n');
      expect(BigInt(first.id.split('-')[0]!)).toBeGreaterThan(5n);
      // Make the reader reconnect, as it would after Redis restarted.
      await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    } finally {
      admin.disconnect();
    }
    expect(await client.take(1)).toEqual([{ id: '5-1', event: undefined, data: 'behind' }]);
    let later: string | undefined;
    await waitFor(async () => {
      later = await broadcaster.broadcast({ data: 'later' }).then((e) => e.id, () => undefined);
      return later !== undefined;
    }, 5000, 'reconnection');
    expect(await client.take(1)).toEqual([{ id: later, event: undefined, data: 'later' }]);
  });

  test('after a stream restored without its tail, the reader resumes after its newest entry without repeating', async () => {
    const client = await connect();
    const sent = [];
    for (const data of ['one', 'two', 'three']) sent.push((await broadcaster.broadcast({ data })).id);
    await client.take(3);
    const admin = redis.client();
    try {
      await admin.xdel(broadcaster.stream, sent[2]!);
      await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    } finally {
      admin.disconnect();
    }
    let four: string | undefined;
    await waitFor(async () => {
      four = await broadcaster.broadcast({ data: 'four' }).then((e) => e.id, () => undefined);
      return four !== undefined;
    }, 5000, 'reconnection');
    expect(await client.take(1)).toEqual([{ id: four, event: undefined, data: 'four' }]);
    expect(client.rest()).toEqual([]);
  });
});

test('a reader that falls behind retention ends its streams, and the clients learn of the gap on resume', async () => {
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

    // A's reader is away (300 ms) while B broadcasts more than the stream retains.
    const admin = redis.client();
    try {
      const list = (await admin.client('LIST')) as string;
      const id = /(?:^| )id=(\d+)/.exec(list.split('\n').find((line) => / name=behindA:reader /.test(line)) ?? '')?.[1];
      await admin.call('CLIENT', 'KILL', 'ID', id!);
    } finally {
      admin.disconnect();
    }
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

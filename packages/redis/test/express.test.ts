/**
 * Through the Express adapter, two instances in one process (each with its own
 * RedisBroadcaster and connections): the broadcaster is passed as both `hub` and `replayer`.
 */
import type { Server } from 'node:http';
import express from 'express';
import { expressSse, type ExpressSseMiddleware } from '@ssekit/express';
import { RedisBroadcaster } from '@ssekit/redis';
import { connect as openStream, waitFor, type SseClient } from '@ssekit/testkit';
import { RedisServer } from '@ssekit/testkit/redis-server';

interface App {
  name: string;
  broadcaster: RedisBroadcaster;
  sse: ExpressSseMiddleware;
  server: Server;
  url: string;
}

let redis: RedisServer;
let a: App;
let b: App;
const clients: SseClient[] = [];

async function start(name: string): Promise<App> {
  const broadcaster = new RedisBroadcaster({
    redis: { host: '127.0.0.1', port: redis.port, connectionName: name, retryStrategy: () => 300 },
    namespace: 'express',
    onError: () => {},
  });
  const sse = expressSse({ hub: broadcaster, replayer: broadcaster, heartbeatMs: 0 });
  const app = express();
  app.use(sse);
  app.get('/events', async (req, res) => {
    const topic = req.query.topic;
    await res.sse({ topics: typeof topic === 'string' ? [topic] : [] });
  });
  await broadcaster.ready();
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { name, broadcaster, sse, server, url: `http://127.0.0.1:${port}/events` };
}

async function connect(app: App, lastEventId?: string): Promise<SseClient> {
  const count = app.broadcaster.connectionCount();
  const client = await openStream(app.url, lastEventId === undefined ? {} : { 'last-event-id': lastEventId });
  expect(client.status).toBe(200);
  clients.push(client);
  await waitFor(() => app.broadcaster.connectionCount() > count, 5000, 'registration');
  return client;
}

beforeAll(async () => {
  redis = await RedisServer.start();
  [a, b] = await Promise.all([start('A'), start('B')]);
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await waitFor(() => a.broadcaster.connectionCount() + b.broadcaster.connectionCount() === 0, 5000, 'streams to close');
});

afterAll(async () => {
  for (const app of [a, b]) {
    if (!app) continue;
    await app.sse.close(app.server);
    await app.broadcaster.close();
  }
  await redis?.dispose();
});

test('sse.hub broadcasts on B reach res.sse() streams on A and B alike', async () => {
  const onA = await connect(a);
  const onB = await connect(b);
  expect(b.sse.hub).toBe(b.broadcaster);
  const first = await b.sse.hub.broadcast({ event: 'greeting', data: { hello: 'world' } });
  const second = await a.sse.hub.broadcast({ data: 'two' });
  const expected = [
    { id: first!.id, event: 'greeting', data: '{"hello":"world"}' },
    { id: second!.id, event: undefined, data: 'two' },
  ];
  expect(await onA.take(2)).toEqual(expected);
  expect(await onB.take(2)).toEqual(expected);
});

test('a client coming from an instance that is ahead gets no event twice', async () => {
  const onB = await connect(b);
  const warm = await connect(a);
  await b.broadcaster.broadcast({ data: 'e1' });
  await warm.take(1);
  await onB.take(1);

  // Drop A's reader: until it reconnects (300 ms), A delivers nothing and falls behind B.
  await redis.killClient('A:sub');
  const e2 = await b.broadcaster.broadcast({ data: 'e2' });
  const e3 = await b.broadcaster.broadcast({ data: 'e3' });
  expect((await onB.take(2)).map((e) => e.id)).toEqual([e2.id, e3.id]);

  // The client saw e3 on B and reconnects to A, whose reader has not delivered e2 and e3 yet.
  const moved = await connect(a, e3.id);
  const e4 = await b.broadcaster.broadcast({ data: 'e4' });
  expect(await moved.take(1)).toEqual([{ id: e4.id, event: undefined, data: 'e4' }]);
  // The client that stayed on A got everything, once, in order.
  expect((await warm.take(3)).map((e) => e.data)).toEqual(['e2', 'e3', 'e4']);
  expect(moved.rest()).toEqual([]);
  expect(warm.rest()).toEqual([]);
});

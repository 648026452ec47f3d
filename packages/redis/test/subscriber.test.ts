/**
 * The subscriber connection on a real redis-server: channels added and removed in batches, a
 * channel wanted again while its unsubscribe is on its way, and the barrier.
 */
import { Redis } from 'ioredis';
import { waitFor } from '@ssekit/testkit';
import { RedisServer } from '@ssekit/testkit/redis-server';
import { FAIL_FAST } from '../src/link';
import { Subscriber, defaultDelay } from '../src/subscriber';

let redis: RedisServer;
let subscriber: Subscriber;
const received: [string, string][] = [];

beforeAll(async () => {
  redis = await RedisServer.start();
  subscriber = new Subscriber({
    open: () => new Redis({ host: '127.0.0.1', port: redis.port, ...FAIL_FAST, lazyConnect: true, autoResubscribe: false, retryStrategy: () => null, protocol: 3 }),
    delay: defaultDelay,
    pingMs: 5000,
    timeoutMs: 2000,
    onMessage: (channel, payload) => void received.push([channel, payload.toString()]),
    onSubscribed: () => Promise.resolve(),
    onBreak: () => {},
    // Reads a key on the subscriber connection itself (RESP3), as the broadcaster reads its clock.
    fence: async (conn) => String(await conn.get('fence')),
    onError: () => {},
  });
  await subscriber.whenLive();
});

afterAll(async () => {
  await subscriber?.stop();
});

async function publish(channel: string, message: string): Promise<number> {
  const client = redis.client();
  try {
    return Number(await client.call('SPUBLISH', channel, message));
  } finally {
    client.disconnect();
  }
}

test('channels added together are subscribed in one batch, and confirmed before add() resolves', async () => {
  await Promise.all(['a', 'b', 'c'].map((c) => subscriber.add(c)));
  for (const c of ['a', 'b', 'c']) expect(await publish(c, `to ${c}`)).toBe(1);
  await waitFor(() => received.length === 3, 2000, 'three messages');
  expect(received.map(([c]) => c).sort()).toEqual(['a', 'b', 'c']);
});

test('a channel wanted again while its unsubscribe is on its way is subscribed again before add() resolves', async () => {
  await subscriber.add('again');
  for (let round = 0; round < 20; round++) {
    subscriber.remove('again');
    // Wanted again at once, and again after the unsubscribe went out.
    await subscriber.add('again');
    expect(await publish('again', `round ${round}`)).toBe(1);
    subscriber.remove('again');
    await new Promise((resolve) => setImmediate(resolve));
    await subscriber.add('again');
    expect(await publish('again', `later ${round}`)).toBe(1);
  }
  subscriber.remove('again');
  await waitFor(async () => (await publish('again', 'gone')) === 0, 2000, 'the channel to be left');
});

test('a barrier resolves after every message published before it, with what its command read on the subscriber connection', async () => {
  await subscriber.add('ordered');
  const before = received.length;
  const client = redis.client();
  try {
    const pipeline = client.pipeline();
    for (let i = 0; i < 200; i++) pipeline.call('SPUBLISH', 'ordered', String(i));
    await pipeline.exec();
  } finally {
    client.disconnect();
  }
  const client2 = redis.client();
  await client2.set('fence', 'after 200');
  client2.disconnect();
  expect(await subscriber.barrier()).toBe('after 200');
  expect(received.length - before).toBe(200);
});

/**
 * Interest-based delivery on a real redis-server: an instance receives only the topics its
 * connections subscribe to (plus untargeted broadcasts), a new subscription misses nothing
 * between "subscribed" and "live", and a subscription that broke while history was trimmed
 * closes exactly the streams that lost events.
 */
import { startApp, type App } from './app';
import { RedisServer } from '@ssekit/testkit/redis-server';
import { waitFor as eventually, type SseClient } from '@ssekit/testkit';

let redis: RedisServer;
const apps: App[] = [];

beforeAll(async () => {
  redis = await RedisServer.start();
});

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

afterAll(async () => {
  await redis?.dispose();
});

async function app(name: string, options: Parameters<typeof startApp>[1] = {}): Promise<App> {
  const started = await startApp(redis, { namespace: 'interest', redis: { host: '127.0.0.1', port: redis.port, connectionName: name, retryStrategy: () => 300 }, ...options });
  apps.push(started);
  return started;
}

/** Subscribers of a shard channel, as Redis counts them. */
async function shardSubscribers(channel: string): Promise<number> {
  const admin = redis.client();
  try {
    const reply = (await admin.call('PUBSUB', 'SHARDNUMSUB', channel)) as [string, number];
    return Number(reply[1]);
  } finally {
    admin.disconnect();
  }
}

test('fan-in: an instance without subscribers for a topic receives none of its events', async () => {
  const a = await app('fanA', { lingerMs: 200 });
  const b = await app('fanB', { lingerMs: 200 });
  const client = await a.connect(['only-on-a']);
  expect(await shardSubscribers(a.broadcaster.streamKey('only-on-a'))).toBe(1);
  const before = { a: a.broadcaster.stats().received, b: b.broadcaster.stats().received };
  for (let i = 0; i < 200; i++) await b.broadcaster.broadcastTo('only-on-a', { data: i });
  await b.broadcaster.broadcast({ data: 'everyone' });
  const got = await client.take(201);
  expect(got.at(-1)!.data).toBe('everyone');
  await eventually(() => b.broadcaster.stats().received - before.b === 1, 2000, 'B to receive the untargeted event');
  expect(a.broadcaster.stats().received - before.a).toBe(201);
  expect(b.broadcaster.stats().received - before.b).toBe(1);
  expect(b.broadcaster.stats().channels).toBe(1);

  // The last subscriber leaves: A unsubscribes after the linger, and then receives none either.
  client.close();
  await eventually(async () => (await shardSubscribers(a.broadcaster.streamKey('only-on-a'))) === 0, 5000, 'A to unsubscribe');
  const after = a.broadcaster.stats().received;
  await b.broadcaster.broadcastTo('only-on-a', { data: 'nobody' });
  await b.broadcaster.broadcast({ data: 'marker' });
  await eventually(() => a.broadcaster.stats().received - after === 1, 2000, 'the marker');
});

test('a new subscription misses nothing while events flow, whether the instance had the topic already or not', async () => {
  const a = await app('flowA', { lingerMs: 2000 });
  const b = await app('flowB');
  const topics = Array.from({ length: 6 }, (_, i) => `flow-${i}`);
  const ids = new Map<string, string[]>(topics.map((t) => [t, []]));
  let running = true;
  // Four publishers without pause: events of every topic keep arriving while clients join.
  const producers = Array.from({ length: 4 }, async (_, p) => {
    for (let i = p; running; i += 4) {
      const topic = topics[i % topics.length]!;
      const { id } = await b.broadcaster.broadcastTo(topic, { data: i });
      ids.get(topic)!.push(id);
    }
  });
  await eventually(() => [...ids.values()].every((list) => list.length > 5), 5000, 'events to flow');
  // Per topic, one client when A does not have the topic yet, then two more once it has.
  const clients: { topic: string; client: SseClient; after: string }[] = [];
  for (const topic of topics) {
    for (let k = 0; k < 3; k++) {
      const list = ids.get(topic)!;
      const after = list[list.length - 2]!;
      clients.push({ topic, client: await a.connect([topic], after), after });
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
  running = false;
  await Promise.all(producers);
  for (const { topic, client, after } of clients) {
    const list = ids.get(topic)!;
    const expected = list.slice(list.indexOf(after) + 1).sort(byId);
    await eventually(() => client.events.length >= expected.length, 5000, 'the last event');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(client.events.map((e) => e.id)).toEqual(expected);
  }
  expect(a.opened.every((c) => !c.replayGap)).toBe(true);
  expect(a.broadcaster.stats().channels).toBe(topics.length + 1);
}, 30_000);

test('a catch-up over more topics than one script call reads (300) delivers them all, in id order', async () => {
  // A's subscriber comes back 1.5 s after it is dropped: the events below all arrive meanwhile.
  const a = await app('manyA', { redis: { host: '127.0.0.1', port: redis.port, connectionName: 'manyA', retryStrategy: () => 1500 } });
  const b = await app('manyB');
  const topics = Array.from({ length: 300 }, (_, i) => `many-${i}`);
  const client = await a.connect(topics);
  await redis.killClient('manyA:sub');
  // While A's subscriber is away, events on the first, a middle and the last topics.
  const sent: string[] = [];
  for (const topic of ['many-299', 'many-0', 'many-150', 'many-299']) sent.push((await b.broadcaster.broadcastTo(topic, { data: topic })).id);
  expect((await client.take(4, 10_000)).map((e) => e.id)).toEqual(sent);
  expect(a.broadcaster.stats()).toMatchObject({ catchUps: 1, caughtUp: 4, closedForLoss: 0 });
}, 30_000);

test("a client's events stay in id order across its topics when it joins, with a topic new to the instance and one it has", async () => {
  const a = await app('orderA');
  const b = await app('orderB');
  const anchor = await a.connect(['busy']);
  const published: { id: string; topic: string }[] = [];
  let own = ['own-0-0', 'own-0-1', 'own-0-2'];
  let running = true;
  // Half the events to the busy topic A receives already, half to the topics clients are about
  // to join (new to A each round): announcements of the busy topic are always on their way.
  const producers = Array.from({ length: 6 }, async (_, p) => {
    for (let i = p; running; i += 6) {
      const topic = i % 2 === 0 ? 'busy' : own[i % own.length]!;
      const { id } = await b.broadcaster.broadcastTo(topic, { data: i });
      published.push({ id, topic });
    }
  });
  const clients: { topics: string[]; client: SseClient; after: string }[] = [];
  for (let round = 0; round < 6; round++) {
    own = [0, 1, 2].map((k) => `own-${round}-${k}`);
    await eventually(() => published.filter((e) => own.includes(e.topic)).length > 6, 5000, 'events on the new topics');
    await Promise.all(own.map(async (topic) => {
      const after = published[published.length - 3]!.id;
      const topics = ['busy', topic];
      clients.push({ topics, client: await a.connect(topics, after), after });
    }));
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
  running = false;
  await Promise.all(producers);
  const sorted = [...published].sort((x, y) => byId(x.id, y.id));
  for (const { topics, client, after } of clients) {
    const expected = sorted.filter((e) => topics.includes(e.topic) && byId(e.id, after) > 0).map((e) => e.id);
    await eventually(() => client.events.length >= expected.length, 5000, 'every event');
    // In id order (one Last-Event-ID resumes both topics), each once, none missing.
    expect(client.events.map((e) => e.id)).toEqual(expected);
  }
  anchor.close();
}, 30_000);

function byId(x: string, y: string): number {
  const [xm, xs] = x.split('-').map(BigInt) as [bigint, bigint];
  const [ym, ys] = y.split('-').map(BigInt) as [bigint, bigint];
  return xm === ym ? Number(xs - ys) : Number(xm - ym);
}

test('loss while connected: streams of a topic trimmed while the subscription was down are closed, the others caught up', async () => {
  const a = await app('lossA', { maxLen: 5, exactTrim: true });
  const b = await app('lossB', { maxLen: 5, exactTrim: true });
  const trimmed = await a.connect(['trimmed']);
  const kept = await a.connect(['kept']);
  const both = await a.connect(['kept', 'trimmed']);
  const seen = await b.broadcaster.broadcastTo('trimmed', { data: 'seen' });
  await trimmed.take(1);
  await both.take(1);

  // A's subscriber is away (300 ms): meanwhile `trimmed` gets more than it keeps, `kept` a few.
  await redis.killClient('lossA:sub');
  const missed: string[] = [];
  for (let i = 0; i < 8; i++) await b.broadcaster.broadcastTo('trimmed', { data: `lost${i}` });
  for (let i = 0; i < 3; i++) missed.push((await b.broadcaster.broadcastTo('kept', { data: `k${i}` })).id);

  await eventually(() => !trimmed.open && !both.open, 5000, 'the streams of the trimmed topic to end');
  expect(kept.open).toBe(true);
  expect((await kept.take(3)).map((e) => e.id)).toEqual(missed);
  const live = await b.broadcaster.broadcastTo('kept', { data: 'live' });
  expect((await kept.take(1))[0]!.id).toBe(live.id);
  expect(kept.rest()).toEqual([]);
  expect(a.broadcaster.stats()).toMatchObject({ catchUps: 1, closedForLoss: 2 });
  expect(a.errors.some((e) => /trimmed or expired/.test(e.message))).toBe(true);

  // The closed ones resume after their last event and are told of the gap.
  const resumed = await a.connect(['trimmed'], seen.id);
  expect((await resumed.take(1))[0]).toEqual({ id: undefined, event: 'ssekit-reset', data: 'gap' });
});

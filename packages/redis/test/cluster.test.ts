/**
 * RedisBroadcaster on a real Redis Cluster (3 primaries, 3 replicas), with an ioredis
 * `Cluster` as `redis`: a namespace's keys on one slot, delivery across instances, replay, and
 * a primary failover during broadcasts where whatever is lost is reported as a gap.
 */
import type { StoredEvent } from '@ssekit/core';
import { RedisUnavailableError } from '@ssekit/redis';
import type { Cluster } from 'ioredis';
import { startApp, type App } from './app';
import { RedisCluster } from '@ssekit/testkit/redis-cluster';
import { killClientNamed } from '@ssekit/testkit/redis-server';
import { waitFor as eventually, type SseClient } from '@ssekit/testkit';
import { memoryMetrics } from '@ssekit/testkit/metrics';

let cluster: RedisCluster;
const apps: App[] = [];
const clients: Cluster[] = [];

beforeAll(async () => {
  cluster = await RedisCluster.start();
}, 60_000);

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
  for (const client of clients.splice(0)) client.disconnect();
});

afterAll(async () => {
  await cluster?.dispose();
});

function clusterClient(name?: string): Cluster {
  const client = cluster.client({ redisOptions: { maxRetriesPerRequest: 2, connectionName: name }, retryDelayOnFailover: 200, retryDelayOnClusterDown: 200 });
  // Refreshing the slots while a primary is down fails for a moment; the client retries.
  client.on('error', () => {});
  clients.push(client);
  return client;
}

async function app(namespace: string): Promise<App> {
  const started = await startApp(undefined, { redis: clusterClient(), namespace, timeoutMs: 3000, pingMs: 1000 });
  apps.push(started);
  return started;
}

test('a namespace lives on one slot: its keys are on one primary, and different namespaces spread', async () => {
  const a = await app('tenant-a');
  await a.broadcaster.broadcastTo('x', { data: 1 });
  await a.broadcaster.broadcast({ data: 2 });
  const owner = await cluster.primaryOf('ssekit:{tenant-a}:meta');
  for (const key of ['ssekit:{tenant-a}:meta', a.broadcaster.streamKey('x'), a.broadcaster.streamKey()]) {
    expect(await cluster.primaryOf(key)).toBe(owner);
    const node = cluster.node(owner);
    expect(await node.exists(key)).toBe(1);
    node.disconnect();
  }
  const owners = new Set(await Promise.all(['a', 'b', 'c', 'd', 'e', 'f'].map((ns) => cluster.primaryOf(`ssekit:{${ns}}:meta`))));
  expect(owners.size).toBeGreaterThan(1);
});

test('two instances on a Cluster: same events, same ids, topics, and replay on the other instance', async () => {
  const a = await app('shared');
  const b = await app('shared');
  const onA = await a.connect(['news']);
  const onB = await b.connect(['news', 'sports']);
  const sent: StoredEvent[] = [];
  sent.push(await b.broadcaster.broadcastTo('news', { data: 'n1' }));
  sent.push(await a.broadcaster.broadcastTo('sports', { data: 's1' }));
  sent.push(await a.broadcaster.broadcast({ data: 'all' }));
  expect((await onA.take(2)).map((e) => [e.id, e.data])).toEqual([[sent[0]!.id, 'n1'], [sent[2]!.id, 'all']]);
  expect((await onB.take(3)).map((e) => e.id)).toEqual(sent.map((e) => e.id));
  onA.close();
  const missed = await b.broadcaster.broadcastTo('news', { data: 'n2' });
  const resumed = await b.connect(['news'], sent[2]!.id);
  expect(await resumed.take(1)).toEqual([{ id: missed.id, event: undefined, data: 'n2' }]);
});

test('health and metrics on a Cluster: ready once started, and following MOVED to the namespace\'s primary is no error', async () => {
  const otel = memoryMetrics();
  // Namespaces on different primaries: the reader's first connection goes to one primary and
  // follows MOVED to the owner for all but the namespace that the first one holds. Waiting for
  // the Cluster client to learn its nodes first is start-up, not an error either.
  const started = await Promise.all(['m1', 'm2', 'm3', 'm4'].map((namespace) =>
    startApp(undefined, { redis: clusterClient(), namespace, timeoutMs: 3000, pingMs: 1000, metrics: otel.meter })));
  apps.push(...started);
  for (const a of started) {
    expect(a.broadcaster.health()).toMatchObject({ ready: true, redis: 'up', reader: 'running' });
    const onA = await a.connect(['t']);
    await a.broadcaster.broadcastTo('t', { data: 'x' });
    await onA.take(1);
  }
  // At least one reader did follow a MOVED (it opened a second connection).
  expect(started.map((a) => a.broadcaster.stats().subscriberConnections).some((n) => n > 1)).toBe(true);
  const recorded = await otel.read();
  expect(recorded.get('ssekit.redis.reader.lag')?.[0]?.count).toBe(4);
  expect(recorded.get('ssekit.redis.errors')).toBeUndefined();
});

test('a primary failover during broadcasts: every acknowledged event reaches its clients, or they are told of the gap', async () => {
  const a = await app('failover');
  const b = await app('failover');
  const topics = ['t0', 't1', 't2'];
  const watchers: { topic: string; client: SseClient; app: App }[] = [];
  for (const topic of topics) {
    watchers.push({ topic, client: await a.connect([topic]), app: a });
    watchers.push({ topic, client: await b.connect([topic]), app: b });
  }
  const acked = new Map<string, string[]>(topics.map((t) => [t, []]));
  // Broadcasts that failed and were not stored (a `stored: 'unknown'` one may have been).
  const refused = new Set<string>();
  let running = true;
  const publisher = (async () => {
    for (let i = 0; running; i++) {
      const topic = topics[i % topics.length]!;
      try {
        const { id } = await a.broadcaster.broadcastTo(topic, { data: `${topic}:${i}` });
        acked.get(topic)!.push(id);
      } catch (error) {
        if (!(error instanceof RedisUnavailableError && error.stored === 'unknown')) refused.add(`${topic}:${i}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  })();
  await eventually(() => [...acked.values()].every((ids) => ids.length > 50), 10_000, 'events to flow');
  const primary = await cluster.primaryOf('ssekit:{failover}:meta');
  await cluster.kill(primary);
  await cluster.waitUntilOk('ssekit:{failover}:meta', 30_000);
  const ackedAtFailover = [...acked.values()].reduce((n, ids) => n + ids.length, 0);
  await eventually(() => [...acked.values()].reduce((n, ids) => n + ids.length, 0) > ackedAtFailover + 60, 20_000, 'broadcasts to succeed after the failover');
  running = false;
  await publisher;

  for (const { topic, client, app: on } of watchers) {
    const ids = acked.get(topic)!;
    const last = ids.at(-1)!;
    // Either the stream stayed open and gets everything, or it was closed and resuming tells.
    await eventually(() => !client.open || client.events.some((e) => e.id === last), 15_000, `the last event of ${topic}, or the end of the stream`);
    const got = client.events.map((e) => e.id!);
    expect(new Set(got).size).toBe(got.length);
    // A broadcast that was refused (not stored) never reaches anyone.
    expect(client.events.filter((e) => refused.has(e.data))).toEqual([]);
    expect([...got].sort(byId)).toEqual(got);
    if (client.open) {
      // Nothing acknowledged may be missing.
      expect(ids.filter((id) => !got.includes(id))).toEqual([]);
      continue;
    }
    const resumed = await on.connect([topic], got.at(-1));
    const first = (await resumed.take(1, 10_000))[0]!;
    if (first.event === 'ssekit-reset') continue;
    // No gap reported: then the replay must fill in every acknowledged event after its id.
    const seen = new Set([...got, first.id!, ...(await eventually(() => resumed.events.some((e) => e.id === last), 10_000, 'the replay').then(() => resumed.events.map((e) => e.id!)))]);
    expect(ids.filter((id) => !seen.has(id))).toEqual([]);
  }
  const stats = [a.broadcaster.stats(), b.broadcaster.stats()];
  expect(stats.every((s) => s.subscriberBreaks >= 1 && s.catchUps >= 1)).toBe(true);
}, 120_000);

// Namespaces of the failover tests sit on different primaries ('failover' on slot 3739, in the
// first third; 'lagging' on slot 15520, in the last), so each still has a replica to promote.
test('a failover to a replica that missed acknowledged events: streams that lack them are closed and resume as gaps', async () => {
  const a = await app('lagging');
  const b = await startApp(undefined, {
    redis: clusterClient('lagging-b'),
    namespace: 'lagging',
    timeoutMs: 3000,
    pingMs: 1000,
    lingerMs: 60_000,
  });
  apps.push(b);
  const onA = await a.connect(['t']);
  const onB = await b.connect(['t']);
  const seen = await a.broadcaster.broadcastTo('t', { data: 'replicated' });
  await onA.take(1);
  await onB.take(1);
  const primary = await cluster.primaryOf('ssekit:{lagging}:meta');
  const replica = await cluster.replicaOf(primary);
  // The replica stops replicating (frozen, its link dropped), and B stops receiving: its
  // subscriber is dropped and the primary takes no new connection (maxclients), so it cannot
  // come back before the failover.
  cluster.pause(replica);
  const admin = cluster.node(primary);
  await admin.call('CLIENT', 'KILL', 'TYPE', 'replica');
  const connected = Number(/connected_clients:(\d+)/.exec((await admin.info('clients')) as string)![1]);
  await admin.config('SET', 'maxclients', String(connected - 1));
  await killClientNamed(admin, 'lagging-b:sub');
  const unreplicated: string[] = [];
  for (let i = 0; i < 5; i++) unreplicated.push((await a.broadcaster.broadcastTo('t', { data: `only on the old primary ${i}` })).id);
  await cluster.kill(primary);
  admin.disconnect();
  cluster.resume(replica);
  await cluster.waitUntilOk('ssekit:{lagging}:meta', 30_000);

  // B never got them and the new primary does not have them: B's stream is closed...
  await eventually(() => !onB.open, 20_000, "B's stream to be closed");
  expect(onB.events.map((e) => e.id)).toEqual([seen.id]);
  // ... and resuming after its last event (on either instance) is a gap, not a silent resume.
  const resumed = await b.connect(['t'], seen.id);
  expect((await resumed.take(1, 10_000))[0]!.event).toBe('ssekit-reset');
  // The events published after the failover come after every id handed out.
  const after = await a.broadcaster.broadcastTo('t', { data: 'after' });
  expect(byId(after.id, unreplicated.at(-1)!)).toBeGreaterThan(0);
  expect((await resumed.take(1, 5000))[0]!.id).toBe(after.id);
  // A delivered them before the primary died: its streams have everything and stay open.
  expect(onA.open).toBe(true);
  expect((await onA.take(6, 5000)).map((e) => e.id)).toEqual([...unreplicated, after.id]);
}, 90_000);

function byId(x: string, y: string): number {
  const [xm, xs] = x.split('-').map(BigInt) as [bigint, bigint];
  const [ym, ys] = y.split('-').map(BigInt) as [bigint, bigint];
  return xm === ym ? Number(xs - ys) : Number(xm - ym);
}


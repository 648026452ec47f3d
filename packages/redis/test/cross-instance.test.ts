/**
 * Two app instances in two Node processes, one Redis: same events, same order, same ids on
 * both; topics across instances; Last-Event-ID resume on the other instance; gaps.
 */
import { waitFor, type SseClient } from '@ssekit/testkit';
import { RedisServer } from '@ssekit/testkit/redis-server';
import { Instance, START_TIMEOUT_MS } from './instances';

const MAX_LEN = 20;
let redis: RedisServer;
let a: Instance;
let b: Instance;
const clients: SseClient[] = [];

async function open(instance: Instance, topics: string[] = [], lastEventId?: string): Promise<SseClient> {
  const client = await instance.connect(topics, lastEventId);
  clients.push(client);
  return client;
}

async function publish(instance: Instance, data: string, topic?: string): Promise<string> {
  const reply = await instance.broadcast({ data }, topic);
  expect(reply.status).toBe(200);
  return reply.body.id!;
}

beforeAll(async () => {
  redis = await RedisServer.start();
  [a, b] = await Promise.all([Instance.start(redis.port, MAX_LEN), Instance.start(redis.port, MAX_LEN)]);
}, START_TIMEOUT_MS + 10_000);

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const instance of [a, b]) {
    if (instance?.alive) await waitFor(async () => (await instance.stats()).connections === 0, 5000, 'streams to close');
  }
});

afterAll(async () => {
  a?.kill();
  b?.kill();
  await redis?.dispose();
});

test('a client on A receives what is broadcast on B, in the same order and with the same ids as a client on B', async () => {
  const onA = await open(a);
  const onB = await open(b);
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push(await publish(b, `b${i}`));
  // Concurrent publishers on both instances: the stream orders them once for everyone.
  const concurrent = await Promise.all(Array.from({ length: 10 }, (_, i) => publish(i % 2 ? a : b, `c${i}`)));
  expect(ids.every((id) => /^\d+-\d+$/.test(id))).toBe(true);

  const gotA = await onA.take(15);
  const gotB = await onB.take(15);
  expect(gotA).toEqual(gotB);
  expect(gotA.slice(0, 5)).toEqual(ids.map((id, i) => ({ id, event: undefined, data: `b${i}` })));
  expect(new Set(gotA.slice(5).map((e) => e.id))).toEqual(new Set(concurrent));
  const sorted = [...gotA.map((e) => e.id!)].sort((x, y) => {
    const [xm, xs] = x.split('-').map(BigInt) as [bigint, bigint];
    const [ym, ys] = y.split('-').map(BigInt) as [bigint, bigint];
    return xm === ym ? Number(xs - ys) : Number(xm - ym);
  });
  expect(gotA.map((e) => e.id)).toEqual(sorted);
});

test('topics are filtered on every instance', async () => {
  const xOnA = await open(a, ['x']);
  const yOnA = await open(a, ['y']);
  const xyOnB = await open(b, ['x', 'y']);
  const x1 = await publish(b, 'x1', 'x');
  const y1 = await publish(a, 'y1', 'y');
  const all = await publish(b, 'all');

  expect((await xOnA.take(2)).map((e) => [e.id, e.data])).toEqual([[x1, 'x1'], [all, 'all']]);
  expect((await yOnA.take(2)).map((e) => [e.id, e.data])).toEqual([[y1, 'y1'], [all, 'all']]);
  expect((await xyOnB.take(3)).map((e) => e.data)).toEqual(['x1', 'y1', 'all']);
  expect(xOnA.rest()).toEqual([]);
  expect(yOnA.rest()).toEqual([]);
});

test('a client that drops from A and reconnects to B with Last-Event-ID gets exactly the missed events', async () => {
  const first = await open(a, ['news']);
  const seen = [await publish(b, 'e1'), await publish(a, 'e2', 'news')];
  const received = await first.take(2);
  expect(received.map((e) => e.id)).toEqual(seen);
  first.close();
  await waitFor(async () => (await a.stats()).connections === 0, 5000, 'the drop to be noticed');

  const missed = [await publish(a, 'e3'), await publish(b, 'e4', 'news'), await publish(b, 'other', 'sports'), await publish(a, 'e5')];
  const again = await open(b, ['news'], received[1]!.id);
  const live = await publish(a, 'e6', 'news');
  const got = await again.take(4);
  expect(got.map((e) => e.data)).toEqual(['e3', 'e4', 'e5', 'e6']);
  expect(got.map((e) => e.id)).toEqual([missed[0], missed[1], missed[3], live]);
  // Nothing after: no duplicate from the replay-to-live handoff.
  await publish(b, 'e7');
  expect((await again.take(1))[0]!.data).toBe('e7');
  expect(again.rest()).toEqual([]);
});

test('an id older than retention, a malformed id and an unknown id report a gap', async () => {
  const oldest = await publish(b, 'old');
  for (let i = 0; i < MAX_LEN; i++) await publish(b, `fill${i}`);
  const newest = await publish(b, 'newest');

  for (const id of [oldest, 'not-an-id', '1-0', '99999999999999-0']) {
    const client = await open(a, [], id);
    const [reset] = await client.take(1);
    expect(reset).toEqual({ id: undefined, event: 'ssekit-reset', data: 'gap' });
    const live = await publish(b, 'after-gap');
    expect(await client.take(1)).toEqual([{ id: live, event: undefined, data: 'after-gap' }]);
  }
  // The newest id is not a gap: nothing to replay, live events follow.
  const current = await open(a, [], newest);
  await publish(a, 'next');
  expect((await current.take(1))[0]!.data).not.toBe('ssekit-reset');
});

test('close() releases everything: each instance process exits on its own', async () => {
  const client = await open(a);
  expect(await a.close()).toBe(0);
  expect(await b.close()).toBe(0);
  await waitFor(() => !client.open, 5000, 'the stream to end');
  await waitFor(async () => (await redis.clientNames()).length === 0, 2000, 'Redis to see every connection closed');
});

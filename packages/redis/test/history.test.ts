/**
 * History per topic on a real redis-server: retention per topic (a quiet topic keeps its
 * events), exact gap rules (trimmed, expired, restarted, before the origin), and replay cost
 * proportional to what the client missed on its own topics.
 */
import type { Replayer, StoredEvent } from '@ssekit/core';
import { RedisBroadcaster, RedisReplayer, type RedisBroadcasterOptions, type RedisReplayerOptions } from '@ssekit/redis';
import { commandCalls, delta, inParallel } from './app';
import { RedisServer } from '@ssekit/testkit/redis-server';
import { waitFor as eventually } from '@ssekit/testkit';

let redis: RedisServer;
const open: RedisBroadcaster[] = [];
const readers: RedisReplayer[] = [];

beforeAll(async () => {
  redis = await RedisServer.start();
});

afterEach(async () => {
  await Promise.all([...open.splice(0), ...readers.splice(0)].map((b) => b.close()));
});

afterAll(async () => {
  await redis?.dispose();
});

async function broadcaster(namespace: string, options: Partial<RedisBroadcasterOptions> = {}): Promise<RedisBroadcaster> {
  const b = new RedisBroadcaster({ redis: { host: '127.0.0.1', port: redis.port }, namespace, onError: () => {}, ...options });
  open.push(b);
  await b.ready();
  return b;
}

/**
 * A RedisReplayer on the same namespace: it reads the streams up to their newest entry, where a
 * broadcaster's own replay stops at what it has delivered live (its untargeted broadcasts arrive
 * a moment after the publish).
 */
function reader(namespace: string, options: Partial<RedisReplayerOptions> = {}): RedisReplayer {
  const r = new RedisReplayer({ redis: { host: '127.0.0.1', port: redis.port }, namespace, ...options });
  readers.push(r);
  return r;
}

/** Replays after `afterId` for `topics`; returns the result and the data sent. */
async function replay(b: Replayer, afterId: string, topics?: string[]): Promise<{ gap: boolean; count: number; data: unknown[] }> {
  const data: unknown[] = [];
  const result = await b.replay(afterId, (event: StoredEvent) => void data.push(event.data), topics === undefined ? undefined : { topics });
  return { ...result, data };
}

/** An id just before `id` in the same millisecond (or the millisecond before). */
function before(id: string): string {
  const [ms, seq] = id.split('-').map(Number) as [number, number];
  return seq > 0 ? `${ms}-${seq - 1}` : `${ms - 1}-0`;
}

test('a quiet topic keeps its event while 30,000 go to other topics', async () => {
  const b = await broadcaster('quiet', { maxLen: 100 });
  const start = await b.broadcastTo('busy-0', { data: 'start' });
  const quiet = await b.broadcastTo('quiet', { data: 'the only one' });
  await inParallel(30_000, 200, (i) => b.broadcastTo(`busy-${i % 3}`, { data: i }));
  expect(await replay(b, start.id, ['quiet'])).toEqual({ count: 1, gap: false, data: ['the only one'] });
  // The busy topics themselves were trimmed to 100 (plus the slack): resuming them is a gap.
  expect((await replay(b, start.id, ['quiet', 'busy-1'])).gap).toBe(true);
  expect(await replay(b, quiet.id, ['quiet'])).toEqual({ count: 0, gap: false, data: [] });
}, 60_000);

test('trimmed: a gap exactly when an event of the topics after the id was trimmed', async () => {
  const b = await broadcaster('trim', { maxLen: 3, exactTrim: true });
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push((await b.broadcastTo('t', { data: `t${i}` })).id);
  await b.broadcastTo('other', { data: 'o' });
  // t kept t2, t3, t4: after t0, t1 is gone; after t1, everything missed is there.
  expect((await replay(b, ids[0]!, ['t'])).gap).toBe(true);
  expect(await replay(b, ids[1]!, ['t'])).toEqual({ count: 3, gap: false, data: ['t2', 't3', 't4'] });
  // Trimming on t is no gap for a client of other topics.
  expect(await replay(b, ids[0]!, ['other'])).toEqual({ count: 1, gap: false, data: ['o'] });
  // An entry deleted by hand after the id is a gap too.
  const admin = redis.client();
  await admin.xdel(b.streamKey('t'), ids[3]!);
  admin.disconnect();
  expect((await replay(b, ids[2]!, ['t'])).gap).toBe(true);
  expect(await replay(b, ids[3]!, ['t'])).toEqual({ count: 1, gap: false, data: ['t4'] });
});

test("entries not of this layout (0.1's, or added by hand) are skipped, also when a page holds nothing else, and ids stay after them", async () => {
  const b = await broadcaster('foreign', { batchSize: 2 });
  const r = reader('foreign', { batchSize: 2 });
  const start = await b.broadcastTo('t', { data: 'mine 1' });
  const admin = redis.client();
  try {
    for (let i = 0; i < 5; i++) await admin.xadd(b.streamKey('t'), '*', i % 2 ? 'other' : 'ssekit', i % 2 ? 'x' : '1', 'body', 'data: old\n\n');
  } finally {
    admin.disconnect();
  }
  const mine2 = await b.broadcastTo('t', { data: 'mine 2' });
  expect(await replay(r, start.id, ['t'])).toEqual({ count: 1, gap: false, data: ['mine 2'] });
  // One added by hand ahead of the namespace clock: the next id still comes after it.
  const ahead = `${Number(mine2.id.split('-')[0]) + 60_000}-5`;
  const admin2 = redis.client();
  await admin2.xadd(b.streamKey('t'), ahead, 'other', 'x');
  admin2.disconnect();
  const mine3 = await b.broadcastTo('t', { data: 'mine 3' });
  expect(mine3.id).toBe(`${ahead.split('-')[0]}-6`);
  expect(await replay(r, mine2.id, ['t'])).toEqual({ count: 1, gap: false, data: ['mine 3'] });
});

test('approximate trimming keeps at least maxLen and trims in batches, recording what it removed', async () => {
  const b = await broadcaster('slack', { maxLen: 20 });
  const ids: string[] = [];
  for (let i = 0; i < 23; i++) ids.push((await b.broadcastTo('t', { data: i })).id);
  const admin = redis.client();
  try {
    // Slack 2: 22 entries are kept, the 23rd trims back to 20.
    expect(await admin.xlen(b.streamKey('t'))).toBe(20);
    expect((await replay(b, ids[2]!, ['t'])).count).toBe(20);
    expect((await replay(b, ids[1]!, ['t'])).gap).toBe(true);
  } finally {
    admin.disconnect();
  }
});

test('expired: a missing history is a gap only if it could have held events after the id; a recreated one says since when it is complete', async () => {
  const ttlMs = 400;
  const b = await broadcaster('expire', { ttlMs });
  const t0 = await b.broadcastTo('t', { data: 't0' });
  await b.broadcastTo('t', { data: 't1' });
  const admin = redis.client();
  try {
    await eventually(async () => (await admin.exists(b.streamKey('t'))) === 0, 5000, 't to expire');
    // t1 expired after the client's t0: a gap.
    expect((await replay(b, t0.id, ['t'])).gap).toBe(true);
    // A client whose id is newer than the expiry could not have missed anything of t.
    const recent = await b.broadcastTo('other', { data: 'recent' });
    expect(await replay(b, recent.id, ['t'])).toEqual({ count: 0, gap: false, data: [] });
    // t starts again: complete since it was created, minus ttlMs.
    const t2 = await b.broadcastTo('t', { data: 't2' });
    expect(await replay(b, recent.id, ['t'])).toEqual({ count: 1, gap: false, data: ['t2'] });
    expect((await replay(b, t0.id, ['t'])).gap).toBe(true);
    const info = (await admin.call('XINFO', 'STREAM', b.streamKey('t'))) as unknown[];
    const marker = info[info.indexOf('max-deleted-entry-id') + 1] as string;
    expect(marker).toBe(`${Number(t2.id.split('-')[0]) - ttlMs}-18446744073709551615`);
    expect(Number(await admin.pttl(b.streamKey('t')))).toBeLessThanOrEqual(ttlMs);
  } finally {
    admin.disconnect();
  }
});

test('the origin: an id before the history began, after its clock, or from a Redis that lost its data is a gap', async () => {
  const b = await broadcaster('origin');
  const first = await b.broadcastTo('t', { data: 'first' });
  const second = await b.broadcastTo('t', { data: 'second' });
  expect(await replay(b, first.id, ['t'])).toEqual({ count: 1, gap: false, data: ['second'] });
  expect((await replay(b, before(first.id), ['t'])).gap).toBe(true);
  expect((await replay(b, `${Number(second.id.split('-')[0]) + 1}-0`, ['t'])).gap).toBe(true);
  for (const bad of ['garbage', '1-2-3', '18446744073709551616-0']) expect((await replay(b, bad, ['t'])).gap).toBe(true);
  expect(await replay(b, second.id, ['t'])).toEqual({ count: 0, gap: false, data: [] });

  await redis.kill();
  await redis.restart();
  // Redis came back empty: every id from before is a gap, even with nothing published since.
  await eventually(async () => (await b.replay(second.id, () => undefined, { topics: ['t'] }).then((r) => r.gap, () => false)), 10_000, 'the replay to answer after the restart');
}, 30_000);

test('replay reads only what the client missed: 5 events among 50,000 on 10,000 topics, in one round trip', async () => {
  const b = await broadcaster('cost', { maxLen: 1000 });
  const resume = await b.broadcast({ data: 'before the burst' });
  const mine: string[] = [];
  await inParallel(50_000, 250, async (i) => {
    const topic = i % 10_000 === 4242 ? 'user-4242' : `user-${i % 10_000}`;
    const stored = await b.broadcastTo(topic, { data: `e${i}` });
    if (topic === 'user-4242') mine.push(stored.id);
  });
  expect(mine).toHaveLength(5);
  const reads = b.stats();
  const calls = await commandCalls(redis);
  const result = await replay(b, resume.id, ['user-4242']);
  const used = delta(calls, await commandCalls(redis));
  expect(result).toMatchObject({ count: 5, gap: false });
  // One script call; inside it one XRANGE per stream (the topic and untargeted broadcasts).
  expect((used.evalsha ?? 0) + (used.eval ?? 0)).toBe(1);
  expect(used.xrange).toBe(2);
  expect(b.stats().reads - reads.reads).toBe(1);
  expect(b.stats().entriesRead - reads.entriesRead).toBe(5);
}, 120_000);

test('a replay of more than maxReplayEvents reports a gap and sends nothing', async () => {
  const b = await broadcaster('too-many');
  const r = reader('too-many', { maxReplayEvents: 10, batchSize: 4 });
  const start = await b.broadcast({ data: 'start' });
  for (let i = 0; i < 6; i++) await b.broadcastTo('a', { data: i });
  for (let i = 0; i < 4; i++) await b.broadcast({ data: i });
  // Exactly 10 over three pages of 4: sent.
  expect((await replay(r, start.id, ['a'])).count).toBe(10);
  await b.broadcastTo('a', { data: 'one more' });
  expect(await replay(r, start.id, ['a'])).toEqual({ count: 0, gap: true, data: [] });
});

test('with topics omitted, a replay sends every topic and untargeted broadcast in id order', async () => {
  const b = await broadcaster('everything');
  const start = await b.broadcast({ data: 'start' });
  await b.broadcastTo('x', { data: 1 });
  await b.broadcast({ data: 2 });
  await b.broadcastTo('y', { data: 3 });
  await b.broadcastTo('x', { data: 4 });
  expect(await replay(reader('everything'), start.id)).toEqual({ count: 4, gap: false, data: ['1', '2', '3', '4'] });
});

/**
 * Slow consumers: a thousand clients read a steady broadcast while a few stop reading.
 *
 * Two topics are broadcast at once: `feed` (small events, every client) and `bulk` (large
 * events, the stalled clients and as many reading ones). `bulk` exists so that the stalled
 * sockets fill up in seconds: on loopback the kernel buffers about 4 MB per socket (send plus
 * receive buffers) before a byte stays in Node's own buffer, which is what `maxBufferedBytes`
 * limits. A thousand clients all reading `bulk` would need more CPU than this test may take.
 *
 * Invariants:
 * - every stalled client is closed with reason `slow`, and no reading client is closed;
 * - every reading client receives every event of its topics exactly once, in order, with ids
 *   increasing, before and after the stalled ones are dropped;
 * - server RSS stays under: RSS once all clients are connected + replay retention
 *   (events x payload) + stalled x maxBufferedBytes + an allowance for V8 heap slack;
 * - a stalled client that comes back with `Last-Event-ID` gets every event it missed: what it
 *   read before the cut plus the replay is exactly every event of its topics, once each.
 *
 * Half the stalled clients are raw sockets paused right after the request, half are
 * `node:http` responses paused after the headers.
 */
import { options } from '@ssekit/harness/args';
import { RedisServer } from '@ssekit/harness/redis-server';
import { Report, mib, until, pool, startServer } from '../lib/harness.mjs';
import { dechunk, eventParser, openStream, rawRequest, splitResponse, streamRequest } from '../lib/sse-client.mjs';
import { FIRST_KEY, idKey, isAfter } from '../lib/ids.mjs';

const opts = options({
  adapter: { default: 'core' },
  backend: { default: 'memory' }, // memory | redis (RedisBroadcaster as hub and replayer)
  clients: { default: 1000 },
  stalled: { default: 10 },
  bulkReaders: { default: 10 }, // reading clients that also take the bulk topic
  feedRate: { default: 50 }, // events per second on `feed`
  feedPayload: { default: 256 },
  bulkRate: { default: 200 }, // events per second on `bulk`
  bulkPayload: { default: 2048 },
  seconds: { default: 20 }, // broadcast duration
  maxBuffered: { default: 1024 * 1024 }, // the default maxBufferedBytes
  heapSlackMiB: { default: 80 },
}, undefined, { strict: false });

/** Checks one client's events: per topic 1, 2, 3, ...; ids strictly increasing overall. */
class Checker {
  constructor() {
    this.next = { feed: 1, bulk: 1 };
    this.count = 0;
    this.errors = 0;
    this.firstError = '';
    this.lastKey = FIRST_KEY;
    this.onEvent = (event) => this.take(event);
  }

  take(event) {
    const space = event.data.indexOf(' ');
    const topic = event.data.slice(0, space);
    const n = parseInt(event.data.slice(space + 1), 10);
    const key = event.id === undefined ? undefined : idKey(event.id);
    if (event.event !== 'message' || n !== this.next[topic] || key === undefined || !isAfter(key, this.lastKey)) {
      this.errors++;
      this.firstError ||= `event=${event.event} ${topic}: expected ${this.next[topic]}, got ${n} (id ${event.id})`;
    }
    this.next[topic] = n + 1;
    if (key) this.lastKey = key;
    this.count++;
  }

  has(totals, topics) {
    return topics.every((t) => this.next[t] > totals[t]);
  }
}

await Report.run(`slow consumers (${opts.adapter}, ${opts.backend}): ${opts.clients} clients, ${opts.stalled} stalled`, 240_000, async (report) => {
  const totals = { feed: Math.round(opts.feedRate * opts.seconds), bulk: Math.round(opts.bulkRate * opts.seconds) };
  const retained = totals.feed + totals.bulk + 1000;
  let backend = {};
  if (opts.backend === 'redis') {
    const redis = await RedisServer.start();
    report.onCleanup(() => redis.dispose());
    backend = { backend: 'redis', redisPort: redis.port, redisNamespace: `slow-${Date.now()}`, redisMaxLen: retained };
  }
  const server = await startServer({
    adapter: opts.adapter,
    ...backend,
    replayEvents: retained,
    maxBufferedBytes: opts.maxBuffered,
    heartbeatMs: 15_000,
  });
  report.onCleanup(() => server.close());
  const feedPath = '/events?topic=feed';
  const bothPath = '/events?topic=feed&topic=bulk';

  const readers = [];
  const connectStart = Date.now();
  await pool(opts.clients - opts.stalled, 100, async (i) => {
    const checker = new Checker();
    const topics = i < opts.bulkReaders ? ['feed', 'bulk'] : ['feed'];
    const stream = await openStream(server.port, i < opts.bulkReaders ? bothPath : feedPath, { onEvent: checker.onEvent });
    if (stream.status !== 200) throw new Error(`client got ${stream.status}`);
    readers.push({ stream, checker, topics });
  });
  report.onCleanup(() => readers.forEach((r) => r.stream.close()));

  const stalledRaw = [];
  const stalledHttp = [];
  for (let i = 0; i < opts.stalled; i++) {
    if (i % 2 === 0) {
      const raw = rawRequest(server.port, streamRequest(bothPath), { pause: true });
      await raw.connected;
      stalledRaw.push(raw);
    } else {
      const checker = new Checker();
      const stream = await openStream(server.port, bothPath, { onEvent: checker.onEvent });
      stream.res.pause();
      stalledHttp.push({ stream, checker });
    }
  }
  report.onCleanup(() => stalledRaw.forEach((r) => r.socket.destroy()));
  report.onCleanup(() => stalledHttp.forEach((r) => r.stream.close()));
  await until(async () => (await server.stats()).hubConnections === opts.clients, 20_000, 'all clients registered');
  report.figure('clients connected in', `${Date.now() - connectStart} ms`);

  const before = await server.stats({ gc: true });
  report.figure('server RSS with all clients connected', mib(before.rss));

  const doneMessages = [];
  const deadline = opts.seconds * 1000 + 60_000;
  server.next('done', deadline).then((m) => doneMessages.push(m));
  server.next('done', deadline).then((m) => doneMessages.push(m));
  await server.ask({ cmd: 'broadcast', topic: 'feed', rate: opts.feedRate, total: totals.feed, payloadBytes: opts.feedPayload, batchMs: 50 }, 'ok');
  await server.ask({ cmd: 'broadcast', topic: 'bulk', rate: opts.bulkRate, total: totals.bulk, payloadBytes: opts.bulkPayload, batchMs: 50 }, 'ok');
  const broadcastStart = Date.now();
  let peakRss = before.rss;
  let slowAt;
  await until(
    async () => {
      const s = await server.stats();
      peakRss = Math.max(peakRss, s.rss);
      if (slowAt === undefined && s.closes.slow >= opts.stalled) slowAt = Date.now();
      return slowAt !== undefined || doneMessages.length === 2;
    },
    deadline,
    'stalled clients to be closed',
    250,
  );
  const slowStats = await server.stats();
  report.check(`all ${opts.stalled} stalled clients closed as slow`, slowStats.closes.slow === opts.stalled, `slow closes: ${slowStats.closes.slow}`);
  report.figure('stalled clients closed after', slowAt ? `${slowAt - broadcastStart} ms` : 'never');
  const readersMidway = readers.filter((r) => r.checker.count > 0 && r.checker.errors === 0).length;
  report.check('reading clients kept receiving while the stalled ones backed up', readersMidway === readers.length, `${readersMidway}/${readers.length}`);

  // The stalled clients come back: they read what the kernel still held, then resume from
  // their last complete event with Last-Event-ID.
  const resumed = [];
  for (const raw of stalledRaw) {
    const { body } = splitResponse(await raw.drain());
    const checker = new Checker();
    const parser = eventParser(checker.onEvent);
    parser.push(dechunk(body));
    resumed.push({ kind: 'raw', checker, lastId: parser.lastEventId === '' ? undefined : parser.lastEventId });
  }
  for (const { stream, checker } of stalledHttp) {
    stream.res.resume();
    await stream.closed;
    resumed.push({ kind: 'http', checker, lastId: stream.lastId });
  }
  const readBeforeCut = resumed.map((r) => r.checker.count);
  report.figure('events read by stalled clients before the cut', `${Math.min(...readBeforeCut)}..${Math.max(...readBeforeCut)}`);
  // One at a time, each until it has caught up with a live reader: all ten replaying 4 MB at
  // once would starve this single client process and, with it, the readers it also runs.
  const live = readers.find((r) => r.topics.includes('bulk')) ?? readers[0];
  for (const r of resumed) {
    r.stream = await openStream(server.port, bothPath, { lastEventId: r.lastId, onEvent: r.checker.onEvent });
    await until(() => r.checker.next.bulk >= live.checker.next.bulk, 20_000, 'a resumed client to catch up', 10);
  }
  report.onCleanup(() => resumed.forEach((r) => r.stream?.close()));

  await until(() => doneMessages.length === 2, deadline, 'end of the broadcast', 100);
  await until(
    () => readers.every((r) => r.checker.has(totals, r.topics)) && resumed.every((r) => r.checker.has(totals, ['feed', 'bulk'])),
    30_000,
    'every client to read the last event',
    100,
  ).catch((error) => {
    const lagging = readers.filter((r) => !r.checker.has(totals, r.topics)).length;
    const state = resumed.map((r) => `${r.kind} ${JSON.stringify(r.checker.next)}`).join(', ');
    throw new Error(`${error.message}: ${lagging} readers behind; resumed: ${state}`);
  });
  const final = await server.stats();
  peakRss = Math.max(peakRss, final.rss);
  for (const m of doneMessages) {
    report.figure(`events broadcast on ${m.topic}`, `${m.total} in ${(m.elapsedMs / 1000).toFixed(1)} s`);
  }
  report.figure('bytes per bulk client', mib(totals.bulk * (opts.bulkPayload + 24) + totals.feed * (opts.feedPayload + 24)));

  const bad = readers.filter((r) => r.checker.errors > 0);
  report.check(
    `all ${readers.length} reading clients got every event of their topics once, in order`,
    bad.length === 0,
    bad.length ? `${bad.length} bad, first: ${bad[0].checker.firstError}` : '',
  );
  report.check('no reading client was closed', final.closes.slow === opts.stalled && final.closes.error === 0 && final.closes.client === 0, JSON.stringify(final.closes));

  const incomplete = resumed.filter((r) => r.checker.errors > 0 || r.checker.count !== totals.feed + totals.bulk);
  report.check(
    'stalled clients resumed with Last-Event-ID and got every missed event, once',
    incomplete.length === 0,
    incomplete.length ? `${incomplete.length} incomplete; first: ${incomplete[0].checker.firstError || `count ${incomplete[0].checker.count}`}` : '',
  );
  report.check('no replay gap reported', final.opened.gaps === 0, `gaps: ${final.opened.gaps}`);

  const retention = totals.feed * opts.feedPayload + totals.bulk * opts.bulkPayload;
  const bound = before.rss + retention + opts.stalled * opts.maxBuffered + opts.heapSlackMiB * 1024 * 1024;
  report.figure('server RSS peak', `${mib(peakRss)} (+${mib(peakRss - before.rss)} over connected baseline)`);
  report.figure('RSS bound', `${mib(bound)} = baseline + retention ${mib(retention)} + ${opts.stalled} x ${mib(opts.maxBuffered)} + ${opts.heapSlackMiB} MiB slack`);
  report.check('server RSS stayed under the bound', peakRss <= bound);
  report.check('no process warnings on the server', final.warnings.length === 0, final.warnings.join('; '));
});

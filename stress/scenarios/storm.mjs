/**
 * A reconnect storm, as in a deploy: every client drops at once and comes back with its
 * `Last-Event-ID` on another instance, while events keep coming.
 *
 * `--clients` clients, each subscribed to its own user topic (`u<i>`) and one shared topic
 * (`shared`), split over the instances. Events are broadcast at `--rate` per second on the
 * first instance: `--sharedRate` of them to `shared`, the rest spread round-robin over the user
 * topics. After `--steady` seconds every client drops (TCP reset) and at once reconnects to the
 * other instance (the same one for the in-memory hub) with the id of its last complete event.
 * Broadcasting goes on until every client has caught up and `--after` seconds more.
 *
 * Each event carries its topic's sequence number and its publish time, so every client checks
 * that it got every event of its topics once, in order. Reported:
 * - recovered / lost / duplicated: clients that got everything exactly once, events missing,
 *   events received twice (must be 100% / 0 / 0), and replay gaps (must be 0);
 * - time from the reconnect to the stream's headers, and to caught up: when the client received
 *   the last event of its topics published before its reconnect began (the headers, when it
 *   missed nothing);
 * - Redis: commands (INFO commandstats) and entries read per reconnect, Redis CPU (INFO cpu)
 *   during the storm against the same length of steady state.
 *
 * Backends: `redis` (two instances, RedisBroadcaster as hub and replayer, one redis-server) and
 * `memory` (one instance, in-memory Hub with a MemoryReplayer). `--concurrency` sets the
 * replayers' `maxConcurrentReplays` (default: theirs).
 */
import { performance } from 'node:perf_hooks';
import { options } from '@ssekit/harness/args';
import { createHistogram, exactPercentiles, merge, percentile } from '@ssekit/harness/histogram';
import { RedisServer, command } from '@ssekit/harness/redis-server';
import { builtEntry } from '@ssekit/harness/workspace';
import { Report, until, pool, startServer } from '../lib/harness.mjs';
import { openStream } from '../lib/sse-client.mjs';
import { FIRST_KEY, idKey, isAfter } from '../lib/ids.mjs';

const opts = options({
  backends: { default: 'redis,memory' },
  clients: { default: 2000 },
  rate: { default: 1000 }, // events per second, all topics
  sharedRate: { default: 5 }, // of which to the shared topic (each goes to every client)
  steady: { default: 5 }, // seconds before the storm
  after: { default: 5 }, // seconds of broadcasting once every client caught up
  payload: { default: 64 },
  concurrency: { default: 0 }, // maxConcurrentReplays per instance; 0: the replayer's default
});

/** One client: its topics, what it expects next on each, and its timings. */
class Client {
  constructor(index) {
    this.index = index;
    this.topic = `u${index}`;
    this.next = { shared: 1, [this.topic]: 1 };
    this.count = 0;
    this.missing = 0;
    this.duplicates = 0;
    this.disorder = 0;
    this.firstError = '';
    this.lastKey = FIRST_KEY;
    this.resets = 0;
    this.reconnectAt = undefined;
    this.headersAt = undefined;
    /** When the last event published before the reconnect arrived after it. */
    this.lastMissedAt = undefined;
    /** When an event published after the reconnect arrived, with nothing missing before it. */
    this.pastStormAt = undefined;
    this.onEvent = (event) => this.take(event);
  }

  take(event) {
    if (event.event === 'ssekit-reset') {
      this.resets++;
      return;
    }
    const [label, seqText, timeText] = event.data.split(' ', 3);
    const seq = Number(seqText);
    const expected = this.next[label];
    if (expected === undefined) {
      this.firstError ||= `client ${this.index}: event of another topic ${label}`;
      this.disorder++;
      return;
    }
    if (seq < expected) this.duplicates++;
    else if (seq > expected) this.missing += seq - expected;
    if (seq !== expected) this.firstError ||= `client ${this.index} ${label}: expected ${expected}, got ${seq}`;
    this.next[label] = Math.max(expected, seq + 1);
    const key = event.id === undefined ? undefined : idKey(event.id);
    if (key === undefined || !isAfter(key, this.lastKey)) this.disorder++;
    if (key) this.lastKey = key;
    this.count++;
    if (this.reconnectAt !== undefined && this.pastStormAt === undefined) {
      if (Number(timeText) < this.reconnectWall) this.lastMissedAt = performance.now();
      else if (this.missing === 0) this.pastStormAt = performance.now();
    }
  }

  /** When the client had every event published before its reconnect. */
  get caughtUpAt() {
    return this.pastStormAt === undefined ? undefined : (this.lastMissedAt ?? this.headersAt);
  }

  complete(totals) {
    return this.next.shared > totals.shared && this.next[this.topic] > totals.user(this.index);
  }

  async connect(port, lastEventId) {
    this.stream = await openStream(port, `/events?topic=shared&topic=${this.topic}`, { lastEventId, onEvent: this.onEvent, timeoutMs: 60_000 });
    if (this.stream.status !== 200) throw new Error(`client ${this.index}: status ${this.stream.status}`);
  }
}

/** Redis `INFO` figures: command calls and CPU seconds. */
async function redisInfo(port) {
  // Generous: on a loaded machine this process may take a while to read the reply.
  const text = await command(port, ['INFO', 'all'], 30_000);
  const calls = {};
  for (const match of text.matchAll(/cmdstat_([a-z|]+):calls=(\d+)/g)) calls[match[1]] = Number(match[2]);
  const cpu = Number(/used_cpu_user:([\d.]+)/.exec(text)[1]) + Number(/used_cpu_sys:([\d.]+)/.exec(text)[1]);
  return { calls, cpu };
}

function diff(before, after) {
  const out = {};
  for (const [name, n] of Object.entries(after)) if (n !== (before[name] ?? 0)) out[name] = n - (before[name] ?? 0);
  return out;
}

/** `p50 / p99 / max` of raw samples, in ms. */
function spread(samples) {
  const [p50, p99, max] = exactPercentiles(samples, [50, 99, 100]);
  return `${p50.toFixed(0)} / ${p99.toFixed(0)} / ${max.toFixed(0)} ms`;
}

async function run(backend) {
  const instances = backend === 'redis' ? 2 : 1;
  const title = `storm (${backend}): ${opts.clients} clients on ${instances} instance(s), ${opts.rate} events/s, all reconnect at once`;
  return Report.run(title, 300_000, async (report) => {
    const userRate = opts.rate - opts.sharedRate;
    // Broadcasting runs until stopped; the totals are known once it is.
    const endless = 3600 * opts.rate;
    const totals = {
      shared: Infinity,
      userTotal: Infinity,
      user(i) {
        return Math.floor(this.userTotal / opts.clients) + (i < this.userTotal % opts.clients ? 1 : 0);
      },
    };
    const servers = [];
    const concurrency = opts.concurrency > 0 ? { maxConcurrentReplays: opts.concurrency } : {};
    let redis;
    if (backend === 'redis') {
      redis = await RedisServer.start();
      report.onCleanup(() => redis.dispose());
      const config = { backend: 'redis', redisPort: redis.port, redisNamespace: `storm-${Date.now()}`, redisMaxLen: 1000, resetEvent: true, heartbeatMs: 15_000, ...concurrency };
      servers.push(await startServer(config), await startServer(config));
    } else {
      servers.push(await startServer({ replayEvents: opts.rate * 120, resetEvent: true, heartbeatMs: 15_000, ...concurrency }));
    }
    for (const server of servers) report.onCleanup(() => server.close());

    const clients = Array.from({ length: opts.clients }, (_, i) => new Client(i));
    report.onCleanup(() => clients.forEach((c) => c.stream?.close()));
    const home = (c) => servers[c.index % servers.length];
    const away = (c) => servers[(c.index + 1) % servers.length];
    const t0 = performance.now();
    await pool(clients.length, 100, (i) => clients[i].connect(home(clients[i]).port));
    await until(async () => (await Promise.all(servers.map((s) => s.stats()))).reduce((n, s) => n + s.hubConnections, 0) === clients.length, 30_000, 'every client registered');
    report.figure('clients connected in', `${Math.round(performance.now() - t0)} ms`);

    // Broadcast from the first instance: the shared topic, and the user topics round-robin.
    await servers[0].ask({ cmd: 'broadcast', topic: 'shared', rate: opts.sharedRate, total: endless, payloadBytes: opts.payload, batchMs: 10 }, 'ok');
    await servers[0].ask({ cmd: 'broadcast', spread: { prefix: 'u', count: opts.clients }, inFlight: 64, rate: userRate, total: endless, payloadBytes: opts.payload, batchMs: 10 }, 'ok');
    const broadcastStart = performance.now();

    await new Promise((resolve) => setTimeout(resolve, opts.steady * 1000 - 1000));
    // One second of steady state, measured like the storm, for comparison.
    const steadyBefore = redis ? await redisInfo(redis.port) : undefined;
    const steadyStart = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const steadyAfter = redis ? await redisInfo(redis.port) : undefined;
    const steadyMs = performance.now() - steadyStart;

    // The storm: everyone drops, and comes back at once on the other instance.
    const statsBefore = await Promise.all(servers.map((s) => s.stats()));
    const infoBefore = redis ? await redisInfo(redis.port) : undefined;
    for (const c of clients) c.stream.close('reset');
    await Promise.all(clients.map((c) => c.stream.closed));
    const stormStart = performance.now();
    const wall = Date.now();
    let refused = 0;
    let retried = 0;
    await Promise.all(
      clients.map(async (c) => {
        c.reconnectAt = performance.now();
        c.reconnectWall = wall;
        const lastId = c.stream.lastId;
        // A connect the server's accept queue dropped (a reset) is tried again after a second,
        // as an EventSource would.
        for (let attempt = 1; ; attempt++) {
          try {
            await c.connect(away(c).port, lastId);
            c.headersAt = performance.now();
            return;
          } catch (error) {
            if (attempt === 5) {
              refused++;
              c.firstError ||= String(error?.message ?? error);
              return;
            }
            retried++;
            await new Promise((resolve) => setTimeout(resolve, 1000));
          }
        }
      }),
    );
    await until(() => clients.every((c) => c.pastStormAt !== undefined || c.stream?.ended), 120_000, 'every client to catch up', 20).catch(async (error) => {
      const behind = clients.filter((c) => c.pastStormAt === undefined);
      const stats = await Promise.all(servers.map((s) => s.stats()));
      throw new Error(`${error.message}: ${behind.length} behind, first ${behind[0]?.index} at ${JSON.stringify(behind[0]?.next)} (${behind[0]?.firstError}); servers: ${JSON.stringify(stats.map((s) => ({ hub: s.hubConnections, redis: s.redis, replays: s.replays, opened: s.opened })))}`);
    });
    const stormMs = Math.max(...clients.map((c) => c.caughtUpAt ?? 0)) - stormStart;
    const infoAfter = redis ? await redisInfo(redis.port) : undefined;
    const statsAfter = await Promise.all(servers.map((s) => s.stats()));

    await new Promise((resolve) => setTimeout(resolve, opts.after * 1000));
    const done = [servers[0].next('done', 30_000), servers[0].next('done', 30_000)];
    await servers[0].ask({ cmd: 'stop' }, 'stopped');
    for (const m of await Promise.all(done)) {
      if (m.topic === 'shared') totals.shared = m.sent;
      else totals.userTotal = m.sent;
    }
    await until(() => clients.every((c) => c.complete(totals)), 30_000, 'every client to read the last event', 100).catch(() => {});

    const finished = await Promise.all(done);
    const sent = finished.reduce((n, m) => n + m.sent, 0);
    const failures = finished.reduce((n, m) => n + m.failures, 0);
    const elapsed = (performance.now() - broadcastStart) / 1000;
    report.figure('events broadcast', `${sent} (${failures} failed) over ${elapsed.toFixed(1)} s (${Math.round(sent / elapsed)}/s)`);
    const toHeaders = clients.filter((c) => c.headersAt).map((c) => c.headersAt - c.reconnectAt);
    const toCaughtUp = clients.filter((c) => c.caughtUpAt).map((c) => c.caughtUpAt - c.reconnectAt);
    report.figure('reconnect to headers p50 / p99 / max', spread(toHeaders));
    report.figure('reconnect to caught up p50 / p99 / max', spread(toCaughtUp));
    report.figure('storm over (last client caught up) after', `${stormMs.toFixed(0)} ms`);
    // The servers' own view of the storm's reconnects: from the request to sse() resolving
    // (registered, subscribed, replay written).
    const opens = statsAfter.reduce((h, s) => merge(h, s.openTimes), createHistogram());
    for (const s of statsBefore) {
      for (let k = 0; k < s.openTimes.pairs.length; k += 2) opens.counts[s.openTimes.pairs[k]] -= s.openTimes.pairs[k + 1];
      opens.n -= s.openTimes.n;
    }
    report.figure('server: request to replay written p50 / p99 / max', `${percentile(opens, 50).toFixed(1)} / ${percentile(opens, 99).toFixed(1)} / ${opens.max.toFixed(0)} ms`);

    const recovered = clients.filter((c) => c.complete(totals) && c.missing === 0 && c.duplicates === 0 && c.disorder === 0 && c.resets === 0).length;
    // Events a client should have had and never got (each received once counts once).
    const lost = clients.reduce((n, c) => n + Math.max(0, totals.shared + totals.user(c.index) - (c.count - c.duplicates)), 0);
    const duplicated = clients.reduce((n, c) => n + c.duplicates, 0);
    const gaps = statsAfter.reduce((n, s) => n + s.opened.gaps, 0) - statsBefore.reduce((n, s) => n + s.opened.gaps, 0);
    report.figure('recovered / lost / duplicated', `${((100 * recovered) / clients.length).toFixed(1)}% / ${lost} / ${duplicated}`);
    report.check('every client recovered every event of its topics once, in order', recovered === clients.length, clients.find((c) => c.firstError)?.firstError ?? '');
    report.check('no replay gap and no reset event', gaps === 0 && clients.every((c) => c.resets === 0), `gaps: ${gaps}`);
    report.figure('reconnects reset by the accept queue and tried again', String(retried));
    report.check('every reconnect got a 200', refused === 0);

    if (redis) {
      const used = diff(infoBefore.calls, infoAfter.calls);
      const steadyCalls = diff(steadyBefore.calls, steadyAfter.calls);
      const perReconnect = (name) => ((used[name] ?? 0) / clients.length).toFixed(2);
      const replayReads = statsAfter.reduce((n, s) => n + s.redis.reads, 0) - statsBefore.reduce((n, s) => n + s.redis.reads, 0);
      const entries = statsAfter.reduce((n, s) => n + s.redis.entriesRead, 0) - statsBefore.reduce((n, s) => n + s.redis.entriesRead, 0);
      const requests = statsAfter.reduce((n, s) => n + s.redis.replays.requests, 0) - statsBefore.reduce((n, s) => n + s.redis.replays.requests, 0);
      const shared = statsAfter.reduce((n, s) => n + s.redis.replays.reads, 0) - statsBefore.reduce((n, s) => n + s.redis.replays.reads, 0);
      report.figure('Redis commands during the storm', Object.entries(used).map(([k, v]) => `${k} ${v}`).join(', '));
      report.figure('per reconnect: replay scripts / XRANGE / XINFO', `${(replayReads / clients.length).toFixed(2)} / ${perReconnect('xrange')} / ${perReconnect('xinfo|stream')}`);
      report.figure('publishes during the storm (XADD)', String(used.xadd ?? 0));
      report.figure('replay reads / requests (shared reads)', `${shared} / ${requests}; script pages ${replayReads}`);
      report.figure('entries read per reconnect', (entries / clients.length).toFixed(2));
      const stormCpu = infoAfter.cpu - infoBefore.cpu;
      const steadyCpu = steadyAfter.cpu - steadyBefore.cpu;
      report.figure('Redis CPU during the storm', `${stormCpu.toFixed(2)} s over ${(stormMs / 1000).toFixed(2)} s (${((100 * stormCpu * 1000) / stormMs).toFixed(0)}% of a core)`);
      report.figure('Redis CPU in steady state', `${steadyCpu.toFixed(2)} s over ${(steadyMs / 1000).toFixed(2)} s (${((100 * steadyCpu * 1000) / steadyMs).toFixed(0)}% of a core); evalsha ${steadyCalls.evalsha ?? 0}/s`);
      // Fan-in before the storm: each instance served half the user topics (and the shared one),
      // so it should have received about half the events, where 0.1 read every one.
      const published = statsBefore[0].redis.published;
      const got = statsBefore.map((s) => s.redis.received);
      report.figure('fan-in: announcements received per instance', `${got.map((n) => `${n} (${((100 * n) / published).toFixed(0)}%)`).join(' / ')} of ${published} published`);
    } else {
      const replays = statsAfter[0].replays;
      const before = statsBefore[0].replays;
      report.figure('replay reads / requests (shared reads)', `${replays.reads - before.reads} / ${replays.requests - before.requests}`);
    }
    const warnings = statsAfter.flatMap((s) => s.warnings);
    report.check('no process warnings on the server(s)', warnings.length === 0, warnings.join('; '));
  });
}

let failures = 0;
for (const backend of opts.backends.split(',')) {
  if (backend === 'redis' && builtEntry('@ssekit/redis') === undefined) {
    console.log('\n=== storm (redis): skipped, @ssekit/redis is not built');
    continue;
  }
  const report = await run(backend);
  failures += report.failures.length;
}
process.exitCode = failures === 0 ? 0 : 1;

/**
 * Exactly-once under reconnects: clients drop and come back at random while events are
 * broadcast at a steady rate; each must receive every event exactly once, in id order.
 *
 * Half the events are broadcast to everyone, half to one of `--topics` topics; each client
 * subscribes to one topic, so replay has to pick its events out of the others'.
 *
 * Every client is connected before the broadcast starts, then loops: stay connected for a
 * random 0.2-2 s, drop (TCP reset or plain close, at random), stay away for a random 0-1 s,
 * reconnect with `Last-Event-ID` set to the id of its last complete event. The time away is
 * far inside the replay window (`--window` seconds of events retained), so no gap is allowed:
 * a `ssekit-reset` event, a missing, duplicated or out-of-order event fails the run.
 *
 * Backends:
 * - `memory`: one server, in-memory `Hub` with a `MemoryReplayer`;
 * - `redis`: a throwaway redis-server and two server instances sharing one Redis Stream
 *   (`RedisBroadcaster` as hub and replayer); the broadcast is made on the first instance and
 *   each reconnect goes to a random instance.
 */
import { options } from '@ssekit/harness/args';
import { RedisServer } from '@ssekit/harness/redis-server';
import { builtEntry } from '@ssekit/harness/workspace';
import { Report, until, pool, startServer } from '../lib/harness.mjs';
import { openStream } from '../lib/sse-client.mjs';
import { FIRST_KEY, idKey, isAfter } from '../lib/ids.mjs';

const opts = options({
  backends: { default: 'memory,redis' },
  adapter: { default: 'core' },
  clients: { default: 50 },
  rate: { default: 1000 }, // events per second
  seconds: { default: 15 },
  window: { default: 60 }, // seconds of events the replayer retains
  payload: { default: 64 },
  seed: { default: 1 },
  topics: { default: 2 },
}, undefined, { strict: false });

/** A small deterministic PRNG (mulberry32), so a failing run can be repeated with `--seed`. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Client {
  constructor(index, random, topic) {
    this.index = index;
    this.random = random;
    this.topic = topic;
    this.next = { '*': 1, [topic]: 1 };
    this.count = 0;
    this.errors = 0;
    this.firstError = '';
    this.lastKey = FIRST_KEY;
    this.lastId = undefined;
    this.reconnects = 0;
    this.stream = undefined;
    this.onEvent = (event) => this.take(event);
  }

  take(event) {
    const space = event.data.indexOf(' ');
    const label = event.data.slice(0, space);
    const n = parseInt(event.data.slice(space + 1), 10);
    const key = event.id === undefined ? undefined : idKey(event.id);
    if (event.event !== 'message' || n !== this.next[label] || key === undefined || !isAfter(key, this.lastKey)) {
      this.errors++;
      this.firstError ||= `client ${this.index} (${this.topic}): event=${event.event} ${label}: expected ${this.next[label]}, got ${n} (id ${event.id}, reconnect ${this.reconnects})`;
    }
    if (Number.isFinite(n) && label in this.next) this.next[label] = n + 1;
    if (key) this.lastKey = key;
    this.count++;
  }

  /** True once every event of its topics arrived (`totals`: events per label). */
  complete(totals) {
    return Object.keys(this.next).every((label) => this.next[label] > totals[label]);
  }

  expected(totals) {
    return totals['*'] + totals[this.topic];
  }

  async connect(port) {
    this.stream = await openStream(port, `/events?topic=${this.topic}`, { lastEventId: this.lastId, onEvent: this.onEvent });
    if (this.stream.status !== 200) throw new Error(`client ${this.index}: status ${this.stream.status}`);
  }

  /** Drops the connection; remembers the last complete event, as EventSource does. */
  async drop() {
    const stream = this.stream;
    this.stream = undefined;
    stream.close(this.random() < 0.5 ? 'reset' : 'destroy');
    await stream.closed;
    this.lastId = stream.lastId ?? this.lastId;
  }
}

async function run(backend) {
  return Report.run(`exactly-once (${backend}, ${opts.adapter}): ${opts.clients} clients, ${opts.rate} events/s for ${opts.seconds} s`, 240_000, async (report) => {
    const total = Math.round(opts.rate * opts.seconds);
    // Half untargeted, half spread over the topics.
    const topics = Array.from({ length: opts.topics }, (_, i) => `t${i}`);
    const totals = { '*': Math.round(total / 2) };
    for (const t of topics) totals[t] = Math.round(total / 2 / topics.length);
    const retained = Math.max(1, Math.round(opts.rate * opts.window));
    const servers = [];
    if (backend === 'redis') {
      const redis = await RedisServer.start();
      report.onCleanup(() => redis.dispose());
      const config = { adapter: opts.adapter, backend: 'redis', redisPort: redis.port, redisNamespace: `once-${Date.now()}`, redisMaxLen: retained, resetEvent: true };
      servers.push(await startServer(config), await startServer(config));
      report.figure('redis-server port', redis.port);
    } else {
      servers.push(await startServer({ adapter: opts.adapter, replayEvents: retained, resetEvent: true }));
    }
    for (const server of servers) report.onCleanup(() => server.close());
    report.figure('replay window', `${retained} events (${(retained / opts.rate).toFixed(0)} s at ${opts.rate}/s)`);

    const random = prng(opts.seed);
    const pick = () => servers[Math.floor(random() * servers.length)].port;
    const clients = Array.from({ length: opts.clients }, (_, i) => new Client(i, prng(opts.seed * 7919 + i), topics[i % topics.length]));
    report.onCleanup(() => clients.forEach((c) => c.stream?.close()));
    await pool(clients.length, 50, (i) => clients[i].connect(pick()));
    await until(async () => {
      const counts = await Promise.all(servers.map(async (s) => (await s.stats()).hubConnections));
      return counts.reduce((a, b) => a + b, 0) === clients.length;
    }, 10_000, 'every client registered');

    let done;
    const finished = [];
    const labels = Object.keys(totals);
    for (let i = 0; i < labels.length; i++) {
      servers[0].next('done', opts.seconds * 1000 + 60_000).then((m) => {
        finished.push(m);
        if (finished.length === labels.length) done = finished;
      });
    }
    for (const label of labels) {
      const rate = (opts.rate * totals[label]) / total;
      const topic = label === '*' ? undefined : label;
      await servers[0].ask({ cmd: 'broadcast', topic, rate, total: totals[label], payloadBytes: opts.payload, batchMs: 10 }, 'ok');
    }

    let reconnectFailures = 0;
    let firstReconnectFailure = '';
    const loops = clients.map(async (client) => {
      const r = client.random;
      while (done === undefined) {
        await new Promise((resolve) => setTimeout(resolve, 200 + r() * 1800));
        if (done !== undefined) break;
        await client.drop();
        await new Promise((resolve) => setTimeout(resolve, r() * 1000));
        client.reconnects++;
        try {
          await client.connect(pick());
        } catch (error) {
          reconnectFailures++;
          firstReconnectFailure ||= String(error?.message ?? error);
          return;
        }
      }
    });
    await until(() => done !== undefined, opts.seconds * 1000 + 60_000, 'end of the broadcast', 100);
    await Promise.all(loops);
    await until(() => clients.every((c) => c.complete(totals) || c.errors > 0), 30_000, 'every client to read the last event', 100).catch((error) => {
      const behind = clients.filter((c) => !c.complete(totals));
      throw new Error(`${error.message}: ${behind.length} behind, first at ${JSON.stringify(behind[0]?.next)} after ${behind[0]?.reconnects} reconnects`);
    });

    const reconnects = clients.reduce((a, c) => a + c.reconnects, 0);
    const received = clients.reduce((a, c) => a + c.count, 0);
    const sent = done.reduce((a, m) => a + m.total, 0);
    const elapsed = Math.max(...done.map((m) => m.elapsedMs)) / 1000;
    const failedBroadcasts = done.reduce((a, m) => a + m.failures, 0);
    report.figure('events broadcast', `${sent} in ${elapsed.toFixed(1)} s (${Math.round(sent / elapsed)}/s; half to all, half over ${topics.length} topics), ${failedBroadcasts} failed`);
    report.figure('reconnects', `${reconnects} (${(reconnects / clients.length).toFixed(1)} per client)`);
    const expected = clients.reduce((a, c) => a + c.expected(totals), 0);
    report.figure('events received', `${received} (expected ${expected})`);
    const stats = await Promise.all(servers.map((s) => s.stats()));
    const gaps = stats.reduce((a, s) => a + s.opened.gaps, 0);
    report.figure('streams opened on the server(s)', stats.map((s) => s.opened.count).join(' + '));
    report.check('every reconnect got a 200', reconnectFailures === 0, firstReconnectFailure);
    const bad = clients.filter((c) => c.errors > 0 || c.count !== c.expected(totals));
    report.check(
      'every client got every event of its topic and every untargeted one, exactly once, in id order',
      bad.length === 0,
      bad.length ? `${bad.length} bad; first: ${bad[0].firstError || `count ${bad[0].count}`}` : '',
    );
    report.check('no replay gap reported', gaps === 0, `gaps: ${gaps}`);
    report.check('no slow or error closes', stats.every((s) => s.closes.slow === 0 && s.closes.error === 0), stats.map((s) => JSON.stringify(s.closes)).join(' '));
    report.check('no process warnings on the server(s)', stats.every((s) => s.warnings.length === 0), stats.flatMap((s) => s.warnings).join('; '));
  });
}

let failures = 0;
for (const backend of opts.backends.split(',')) {
  if (backend === 'redis' && !builtEntry('@ssekit/redis')) {
    console.log('\n=== exactly-once (redis): skipped, @ssekit/redis is not built');
    continue;
  }
  const report = await run(backend);
  failures += report.failures.length;
}
process.exitCode = failures === 0 ? 0 : 1;

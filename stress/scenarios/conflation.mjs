/**
 * Conflation: a price ticker read by clients at full speed and by a few that read at a tenth of
 * its rate.
 *
 * One topic, `ticker`, gets `rate` events a second, each broadcast as the topic's last value
 * (`{ conflate: true }`), on a server with a coalescing window (`coalesceMs`). Within a window
 * a newer price replaces the older one still held for a connection, so every client receives at
 * most one price per window: a client that reads bytes at 10% of the unconflated stream's rate
 * keeps up, where without conflation it falls further behind every second until it is closed as
 * slow.
 *
 * Lanes (each its own server and clients, one after the other):
 * - `window`: conflation with the window. Invariants: no stream is closed; each slow client's
 *   newest price, sampled every `sampleMs`, is never older than the window plus one read tick
 *   plus `slackMs` (the machine's scheduling noise); prices arrive in order, ids increase; the
 *   server's memory stays bounded; a slow client that reconnects with its `Last-Event-ID` gets
 *   exactly the events after it (replay is not conflated).
 * - `nowindow`: conflation with `coalesceMs: 0`. A price is held (and replaceable) only once
 *   the transport pushes back, which on loopback is after megabytes of socket buffers: the
 *   slow client first reads through those. Figures only.
 * - `plain`: the same window, no conflation, fewer fast clients. Figures only: the slow
 *   clients' prices grow old by the second (and they are closed as slow once their socket
 *   buffers and `maxBufferedBytes` are full).
 *
 * Each event's data is `ticker <n> <publish time> <pad>` (the stress server's broadcast).
 */
import http from 'node:http';
import { options } from '@ssekit/harness/args';
import { exactPercentiles } from '@ssekit/harness/histogram';
import { Report, mib, until, pool, startServer } from '../lib/harness.mjs';
import { eventParser, openStream } from '../lib/sse-client.mjs';
import { FIRST_KEY, idKey, isAfter } from '../lib/ids.mjs';

const opts = options({
  lanes: { default: 'window,nowindow,plain' },
  clients: { default: 1000 }, // per lane, slow ones included (`plain`: `plainClients`)
  plainClients: { default: 100 },
  slow: { default: 10 },
  rate: { default: 200 }, // ticker events per second
  payload: { default: 256 },
  windowMs: { default: 100 }, // the server's coalesceMs in `window` and `plain`
  slowShare: { default: 0.1 }, // slow clients read this share of the unconflated byte rate
  tickMs: { default: 100 }, // how often a slow client reads its budget
  sampleMs: { default: 100 },
  seconds: { default: 20 },
  warmupSeconds: { default: 3 },
  slackMs: { default: 250 },
  maxBuffered: { default: 1024 * 1024 },
  heapBoundMiB: { default: 32 },
}, undefined, { strict: false });

const TOPIC = 'ticker';
const PATH = `/events?topic=${TOPIC}`;

/** Reads one event's number and publish time; checks order and ids. */
class Ticker {
  constructor() {
    this.lastN = 0;
    this.lastKey = FIRST_KEY;
    this.lastId = undefined;
    this.published = 0;
    this.events = 0;
    this.errors = 0;
    this.firstError = '';
    this.ages = [];
  }

  take(event) {
    const [label, nText, timeText] = event.data.split(' ', 3);
    const n = Number(nText);
    const key = event.id === undefined ? undefined : idKey(event.id);
    if (label !== TOPIC || !(n > this.lastN) || key === undefined || !isAfter(key, this.lastKey)) {
      this.errors++;
      this.firstError ||= `${event.data.slice(0, 40)} after n=${this.lastN} (id ${event.id})`;
    }
    this.lastN = n;
    if (key) this.lastKey = key;
    this.lastId = event.id;
    this.published = Number(timeText);
    this.events++;
    this.ages.push(Date.now() - this.published);
  }
}

/**
 * A client that reads at most `bytesPerSecond`: its response stays paused and, every `tickMs`,
 * it takes what its budget allows, byte-exact (what it has not spent carries over one tick).
 */
function openSlow(port, bytesPerSecond, tickMs) {
  return new Promise((resolve, reject) => {
    const ticker = new Ticker();
    const parser = eventParser((event) => ticker.take(event));
    const req = http.request({ host: '127.0.0.1', port, path: PATH, headers: { Accept: 'text/event-stream' }, agent: false });
    const slow = { ticker, req, bytes: 0, closed: false, timer: undefined };
    req.on('error', (error) => (slow.closed ? undefined : reject(error)));
    req.on('close', () => {
      slow.closed = true;
      clearInterval(slow.timer);
    });
    req.on('response', (res) => {
      if (res.statusCode !== 200) return reject(new Error(`slow client got ${res.statusCode}`));
      res.pause();
      const perTick = (bytesPerSecond * tickMs) / 1000;
      let budget = 0;
      slow.timer = setInterval(() => {
        budget = Math.min(budget + perTick, 2 * perTick);
        while (budget >= 1 && res.readableLength > 0) {
          const chunk = res.read(Math.min(Math.floor(budget), res.readableLength));
          if (chunk === null) break;
          budget -= chunk.length;
          slow.bytes += chunk.length;
          parser.push(chunk);
        }
        // Ask the transport for more: a paused response refills up to its high-water mark.
        res.read(0);
      }, tickMs);
      resolve(slow);
    });
    req.end();
  });
}

function maxOf(values) {
  let max = -Infinity;
  for (const v of values) if (v > max) max = v;
  return values.length ? max : NaN;
}

function spread(values) {
  const [p50, p99] = exactPercentiles(values, [50, 99]);
  const max = maxOf(values);
  return `${p50.toFixed(0)} / ${p99.toFixed(0)} / ${max.toFixed(0)} ms`;
}

async function runLane(report, lane) {
  const conflate = lane !== 'plain';
  const coalesceMs = lane === 'nowindow' ? 0 : opts.windowMs;
  const clients = lane === 'plain' ? opts.plainClients : opts.clients;
  const total = Math.round(opts.rate * opts.seconds);
  console.log(`\n  -- lane ${lane}: conflate ${conflate}, coalesceMs ${coalesceMs}, ${clients} clients (${opts.slow} slow)`);
  const server = await startServer({
    adapter: 'core',
    coalesceMs,
    replayEvents: total + 1000,
    maxBufferedBytes: opts.maxBuffered,
    heartbeatMs: 15_000,
  });
  try {
    const fast = [];
    await pool(clients - opts.slow, 100, async () => {
      const ticker = new Ticker();
      const stream = await openStream(server.port, PATH, { onEvent: (event) => ticker.take(event) });
      if (stream.status !== 200) throw new Error(`client got ${stream.status}`);
      fast.push({ stream, ticker });
    });
    // What one unconflated event costs on the wire (data line, id line, blank line): the slow
    // clients' budget is a share of `rate` of them a second.
    const eventBytes = opts.payload + 40;
    const slowRate = opts.rate * eventBytes * opts.slowShare;
    const slow = [];
    for (let i = 0; i < opts.slow; i++) slow.push(await openSlow(server.port, slowRate, opts.tickMs));
    await until(async () => (await server.stats()).hubConnections === clients, 20_000, 'all clients registered');

    const base = await server.stats({ gc: true });
    let peakRss = base.rss;
    let peakHeap = base.heapUsed;
    const staleness = [];
    const started = Date.now();
    const sampler = setInterval(() => {
      if (Date.now() - started < opts.warmupSeconds * 1000) return;
      const now = Date.now();
      for (const s of slow) if (!s.closed && s.ticker.published) staleness.push(now - s.ticker.published);
    }, opts.sampleMs);
    const memory = setInterval(async () => {
      const stats = await server.stats().catch(() => undefined);
      if (!stats) return;
      peakRss = Math.max(peakRss, stats.rss);
      peakHeap = Math.max(peakHeap, stats.heapUsed);
    }, 1000);
    // Halfway through, the first slow client leaves; it resumes once the broadcast is over.
    let leaver;
    const leave = setTimeout(() => {
      const one = slow[0];
      leaver = { fromN: one.ticker.lastN, lastId: one.ticker.lastId };
      one.req.destroy();
    }, (opts.seconds * 1000) / 2);
    server.child.send({ cmd: 'broadcast', topic: TOPIC, rate: opts.rate, total, payloadBytes: opts.payload, conflate });
    await server.next('done', (opts.seconds + 30) * 1000);
    // The last window leaves up to `coalesceMs` after the last broadcast.
    await until(() => fast.every((f) => f.ticker.lastN === total), 5000, 'every fast client to get the last price').catch(() => {});
    clearInterval(sampler);
    clearInterval(memory);
    clearTimeout(leave);
    const after = await server.stats({ gc: true });

    const fastEvents = fast.reduce((sum, f) => sum + f.ticker.events, 0);
    const slowEvents = slow.reduce((sum, s) => sum + s.ticker.events, 0);
    const slowBytes = slow.reduce((sum, s) => sum + s.bytes, 0);
    const errors = [...fast, ...slow].reduce((sum, c) => sum + c.ticker.errors, 0);
    const firstError = [...fast, ...slow].find((c) => c.ticker.errors)?.ticker.firstError ?? '';
    const fastAges = fast.flatMap((f) => f.ticker.ages);
    const slowAges = slow.flatMap((s) => s.ticker.ages);
    report.figure('events published', `${total} in ${opts.seconds} s (${opts.rate}/s, ${opts.payload} B)`);
    report.figure('events per fast client', (fastEvents / fast.length).toFixed(0));
    report.figure('events per slow client', (slowEvents / slow.length).toFixed(0));
    report.figure('slow client read rate', `${(slowBytes / slow.length / opts.seconds / 1024).toFixed(1)} KiB/s of a ${(slowRate / 1024).toFixed(1)} KiB/s budget`);
    report.figure('age at parse, fast p50 / p99 / max', spread(fastAges));
    report.figure('age at parse, slow p50 / p99 / max', spread(slowAges));
    report.figure('slow newest price age, p50 / p99 / max', spread(staleness));
    report.figure('closes (slow / client / server)', `${after.closes.slow} / ${after.closes.client} / ${after.closes.server}`);
    report.figure('server RSS: before / peak / after', `${mib(base.rss)} / ${mib(peakRss)} / ${mib(after.rss)}`);
    report.figure('server heap: before / peak / after', `${mib(base.heapUsed)} / ${mib(peakHeap)} / ${mib(after.heapUsed)}`);

    if (lane === 'window') {
      const bound = opts.windowMs + opts.tickMs + opts.slackMs;
      report.check('no stream closed but the one that left', after.closes.slow + after.closes.error + after.closes.server === 0 && after.closes.client === 1 && slow.slice(1).every((s) => !s.closed), `closes ${JSON.stringify(after.closes)}`);
      report.check('prices in order, ids increasing', errors === 0, firstError);
      report.check(`slow clients' newest price never older than ${bound} ms`, staleness.length > 0 && maxOf(staleness) <= bound, `max ${maxOf(staleness).toFixed(0)} ms of ${staleness.length} samples`);
      report.check('every fast client has the last price', fast.every((f) => f.ticker.lastN === total), `lowest last n ${-maxOf(fast.map((f) => -f.ticker.lastN))} of ${total}`);
      report.check(`server heap grew by under ${opts.heapBoundMiB} MiB`, peakHeap - base.heapUsed < opts.heapBoundMiB * 1024 * 1024, mib(peakHeap - base.heapUsed));

      // The slow client that left halfway comes back with its id: the replay is every event
      // after it, in full (replay is not conflated).
      if (!leaver?.lastId) throw new Error('the leaving slow client had no id yet');
      const resumed = new Ticker();
      resumed.lastN = leaver.fromN;
      const stream = await openStream(server.port, PATH, { lastEventId: leaver.lastId, onEvent: (event) => resumed.take(event) });
      await until(() => resumed.lastN === total, 10_000, 'the resumed client to reach the last price').catch(() => {});
      stream.close();
      report.check(
        "resume with a conflated client's Last-Event-ID replays exactly the events after it",
        resumed.errors === 0 && resumed.events === total - leaver.fromN,
        `${resumed.events} events after n=${leaver.fromN}, ${total - leaver.fromN} expected${resumed.firstError ? `; ${resumed.firstError}` : ''}`,
      );
    }
    for (const f of fast) f.stream.close();
    for (const s of slow) s.req.destroy();
  } finally {
    await server.close();
  }
}

const lanes = opts.lanes.split(',');
await Report.run(`conflation: ${opts.clients} clients (${opts.slow} at ${opts.slowShare * 100}% of the rate), ${opts.rate} prices/s, lanes ${lanes.join(', ')}`, 60_000 + lanes.length * (opts.seconds + 60) * 1000, async (report) => {
  for (const lane of lanes) {
    if (!['window', 'nowindow', 'plain'].includes(lane)) throw new Error(`unknown lane ${lane}`);
    await runLane(report, lane);
  }
});

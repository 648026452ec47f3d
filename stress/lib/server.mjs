/**
 * The server under stress, run as a child process so that its memory is measured alone and
 * the clients get their own CPU. It listens on 127.0.0.1, port 0, and is driven over IPC:
 *
 *   { cmd: 'broadcast', rate, total, payloadBytes, batchMs, topic?, spread?, inFlight?, conflate? }
 *       steady broadcast, reports 'done'. Each event's data is `<label> <n> <publish time> <pad>`:
 *       `n` counts per label from 1, so a client can check it got every event of its topics.
 *       With `spread: { prefix, count }` event k goes to topic `<prefix><k % count>`, and up to
 *       `inFlight` broadcasts may be pending at once (consecutive events of one topic are
 *       `count` apart, so each topic's order holds). `conflate: true` broadcasts each event as a
 *       last value of its topic (`{ conflate: true }`).
 *   { cmd: 'stop' }                                           ends every broadcast now; each
 *       reports 'done' with what it sent, once its broadcasts have settled; replies 'stopped'
 *   { cmd: 'stats', gc }                                      counts, heartbeat, memory
 *   { cmd: 'close' }                                          graceful shutdown, then exit
 *
 * Streams are served at `GET /events?topic=a&topic=b[&close=1]`: `close=1` ends the stream
 * from the server right after it opened. The process reports 'warning' events (for example
 * MaxListenersExceededWarning) in its stats.
 *
 * The app is the harness's (`buildApp`) for the configured adapter, on the built packages.
 *
 * Usage: node server.mjs '<json config>'   (config: see `defaults` below)
 */
import { buildApp } from '@ssekit/harness/apps';
import { createHistogram, record, toJSON } from '@ssekit/harness/histogram';
import { schedule } from '@ssekit/harness/schedule';
import { importWorkspace } from '@ssekit/harness/workspace';

const defaults = {
  adapter: 'core', // core | express | fastify | koa
  backend: 'memory', // memory | redis
  redisPort: 0,
  redisNamespace: 'stress',
  redisMaxLen: 10_000,
  replayEvents: 0, // MemoryReplayer size; 0 = no replayer
  maxBufferedBytes: 256 * 1024,
  heartbeatMs: 15_000,
  retryMs: undefined,
  resetEvent: true,
  maxConnectsPerSecond: undefined,
  maxConcurrentReplays: undefined, // replayer default when undefined
  coalesceMs: 0,
};
const config = { ...defaults, ...JSON.parse(process.argv[2] ?? '{}') };

const warnings = [];
process.on('warning', (warning) => warnings.push(`${warning.name}: ${warning.message}`));

const closes = { client: 0, server: 0, slow: 0, error: 0 };
/** From the request to `sse()` resolving (registered, subscribed, replay written), in ms. */
const openTimes = createHistogram();
const opened = { count: 0, gaps: 0 };
function track(connection) {
  opened.count++;
  if (connection.replayGap) opened.gaps++;
  connection.onClose((reason) => closes[reason]++);
}

const core = await importWorkspace('@ssekit/core');
const coreIntegration = await importWorkspace('@ssekit/core/integration');

let redisClient;
const redisErrors = [];
let replayer;
let hub;
if (config.backend === 'redis') {
  const { RedisBroadcaster } = await importWorkspace('@ssekit/redis');
  const { default: Redis } = await import('ioredis');
  redisClient = new Redis({ host: '127.0.0.1', port: config.redisPort, lazyConnect: false });
  hub = new RedisBroadcaster({
    redis: redisClient,
    namespace: config.redisNamespace,
    maxLen: config.redisMaxLen,
    ...(config.maxConcurrentReplays !== undefined ? { maxConcurrentReplays: config.maxConcurrentReplays } : {}),
    // Reported in the stats: the subscription's breaks, catch-ups and closed streams.
    onError: (error) => redisErrors.push(error.message),
  });
  replayer = hub;
  await hub.ready();
} else if (config.replayEvents > 0) {
  replayer = new core.MemoryReplayer(config.replayEvents, 0, config.maxConcurrentReplays !== undefined ? { maxConcurrentReplays: config.maxConcurrentReplays } : {});
}

const options = {
  ...(hub ? { hub } : {}),
  ...(replayer ? { replayer } : {}),
  maxBufferedBytes: config.maxBufferedBytes,
  heartbeatMs: config.heartbeatMs,
  coalesceMs: config.coalesceMs,
  ...(config.retryMs !== undefined ? { retryMs: config.retryMs } : {}),
  resetEvent: config.resetEvent,
  ...(config.maxConnectsPerSecond !== undefined ? { maxConnectsPerSecond: config.maxConnectsPerSecond } : {}),
};

// The harness's app for the adapter, on the builds. Refusals are expected under stress:
// answered quietly.
const adapter = config.adapter === 'core' ? 'node' : config.adapter;
const app = await buildApp(
  adapter,
  {
    ssekit: adapter === 'node' ? core : await importWorkspace(`@ssekit/${adapter}`),
    framework: adapter === 'node' ? undefined : (await import(adapter)).default,
  },
  {
    sse: options,
    quiet: true,
    async route(open, url) {
      const started = performance.now();
      const query = new URL(url, 'http://localhost').searchParams;
      const connection = await open({ topics: query.getAll('topic') });
      record(openTimes, performance.now() - started);
      track(connection);
      if (query.has('close')) connection.close();
    },
  },
);
const { server } = app;
server.keepAliveTimeout = 1000;
const port = await app.listen();

/** Broadcasts running now; `close` stops them. */
const broadcasting = new Set();
let closing = false;

/**
 * Broadcasts `total` events at `rate` a second on the harness's fixed schedule, in bursts of
 * what is due every `batchMs`. Each event's number follows the last accepted one of its topic:
 * a failed broadcast (Redis away) is tried again with the same number, so clients can check the
 * sequence has no hole. Reports 'done' at the end (or once stopped).
 */
function startBroadcast({ rate, total, payloadBytes = 64, batchMs = 10, topic, spread, inFlight = 1, conflate = false }) {
  const broadcastOptions = conflate ? { conflate: true } : undefined;
  const pad = 'x'.repeat(Math.max(0, payloadBytes - 32));
  const label = spread ? `${spread.prefix}*` : (topic ?? '*');
  const limit = spread ? Math.max(1, Math.min(inFlight, spread.count)) : 1;
  let accepted = 0;
  let lastId;
  let failures = 0;
  let pending = 0;
  let wake;
  let settled = Promise.resolve();
  const failed = () => {
    failures++;
    if (failures > 100) throw new Error('broadcast keeps failing');
  };
  // Event `index`: its topic and its number within that topic.
  const send = (index) => {
    const to = spread ? `${spread.prefix}${index % spread.count}` : topic;
    const n = spread ? Math.floor(index / spread.count) + 1 : index + 1;
    const attempt = () => {
      const event = { data: `${to ?? '*'} ${n} ${Date.now()} ${pad}` };
      const result = to ? app.hub.broadcastTo(to, event, broadcastOptions) : app.hub.broadcast(event, broadcastOptions);
      if (typeof result?.then !== 'function') {
        lastId = result?.id;
        accepted++;
        return undefined;
      }
      return result.then(
        (stored) => {
          lastId = stored?.id;
          accepted++;
        },
        () => {
          failed();
          return attempt();
        },
      );
    };
    for (;;) {
      try {
        return attempt();
      } catch {
        failed();
      }
    }
  };
  const run = schedule({
    rate,
    total,
    sliceMs: batchMs,
    send: (index) => {
      const result = send(index);
      if (result === undefined) return undefined;
      if (limit === 1) return result;
      // Up to `limit` at once: wait only when that many are pending.
      pending++;
      const done = result.finally(() => {
        pending--;
        wake?.();
      });
      settled = Promise.all([settled, done]);
      if (pending < limit) return undefined;
      return new Promise((resolve) => (wake = resolve));
    },
  });
  broadcasting.add(run);
  run.done
    .then(async ({ elapsedMs }) => {
      await settled;
      broadcasting.delete(run);
      process.send({ type: 'done', topic: label, total: accepted, sent: accepted, lastId, elapsedMs, failures });
    })
    .catch((error) => process.send({ type: 'error', message: String(error?.stack ?? error) }));
}

function gcNow() {
  if (typeof globalThis.gc !== 'function') return;
  for (let i = 0; i < 4; i++) globalThis.gc();
}

async function stats(message) {
  if (message.gc) gcNow();
  const mem = process.memoryUsage();
  const topicNames = typeof app.hub.topicNames === 'function' ? app.hub.topicNames() : undefined;
  return {
    type: 'stats',
    hubConnections: await app.hub.connectionCount(),
    handlerConnections: app.connectionCount(),
    topics: topicNames ? topicNames.length : undefined,
    topicCounts: message.topics ? await Promise.all(message.topics.map((t) => app.hub.topicCount(t))) : undefined,
    heartbeat: coreIntegration.heartbeatStats(),
    rss: mem.rss,
    heapUsed: mem.heapUsed,
    external: mem.external,
    arrayBuffers: mem.arrayBuffers,
    handles: process.getActiveResourcesInfo().length,
    closes: { ...closes },
    opened: { ...opened },
    warnings: [...warnings],
    openTimes: toJSON(openTimes),
    redis: typeof app.hub.stats === 'function' ? { ...app.hub.stats(), errors: redisErrors.slice(-5), errorCount: redisErrors.length } : undefined,
    replays: typeof replayer?.replayStats === 'function' ? replayer.replayStats() : undefined,
  };
}

process.on('message', async (message) => {
  try {
    if (message.cmd === 'broadcast') {
      startBroadcast(message);
      process.send({ type: 'ok', cmd: 'broadcast' });
    } else if (message.cmd === 'stop') {
      for (const run of broadcasting) run.stop();
      process.send({ type: 'stopped' });
    } else if (message.cmd === 'stats') {
      process.send(await stats(message));
    } else if (message.cmd === 'close') {
      closing = true;
      for (const run of broadcasting) run.stop();
      // The adapter's shutdown: ends every stream, then closes the server.
      await app.close();
      if (hub?.close) await hub.close();
      if (redisClient) redisClient.disconnect();
      process.send({ type: 'closed' });
      process.disconnect();
    }
  } catch (error) {
    process.send({ type: 'error', message: String(error?.stack ?? error) });
  }
});

// A parent that went away without asking (killed, crashed) takes this server with it.
process.on('disconnect', () => {
  if (!closing) process.exit(1);
});

process.send({ type: 'ready', port, pid: process.pid });

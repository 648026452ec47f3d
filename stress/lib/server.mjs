/**
 * The server under stress, run as a child process so that its memory is measured alone and
 * the clients get their own CPU. It listens on 127.0.0.1, port 0, and is driven over IPC:
 *
 *   { cmd: 'broadcast', rate, total, payloadBytes, batchMs }  steady broadcast, reports 'done'
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
import { schedule } from '@ssekit/harness/schedule';
import { importWorkspace } from '@ssekit/harness/workspace';

const defaults = {
  adapter: 'core', // core | express | fastify | koa
  backend: 'memory', // memory | redis
  redisPort: 0,
  redisStream: 'stress',
  redisMaxLen: 10_000,
  replayEvents: 0, // MemoryReplayer size; 0 = no replayer
  maxBufferedBytes: 256 * 1024,
  heartbeatMs: 15_000,
  retryMs: undefined,
  resetEvent: true,
};
const config = { ...defaults, ...JSON.parse(process.argv[2] ?? '{}') };

const warnings = [];
process.on('warning', (warning) => warnings.push(`${warning.name}: ${warning.message}`));

const closes = { client: 0, server: 0, slow: 0, error: 0 };
const opened = { count: 0, gaps: 0 };
function track(connection) {
  opened.count++;
  if (connection.replayGap) opened.gaps++;
  connection.onClose((reason) => closes[reason]++);
}

const core = await importWorkspace('@ssekit/core');
const coreIntegration = await importWorkspace('@ssekit/core/integration');

let redisClient;
let replayer;
let hub;
if (config.backend === 'redis') {
  const { RedisBroadcaster } = await importWorkspace('@ssekit/redis');
  const { default: Redis } = await import('ioredis');
  redisClient = new Redis({ host: '127.0.0.1', port: config.redisPort, lazyConnect: false });
  hub = new RedisBroadcaster({ redis: redisClient, stream: config.redisStream, maxLen: config.redisMaxLen });
  replayer = hub;
  await hub.ready();
} else if (config.replayEvents > 0) {
  replayer = new core.MemoryReplayer(config.replayEvents);
}

const options = {
  ...(hub ? { hub } : {}),
  ...(replayer ? { replayer } : {}),
  maxBufferedBytes: config.maxBufferedBytes,
  heartbeatMs: config.heartbeatMs,
  ...(config.retryMs !== undefined ? { retryMs: config.retryMs } : {}),
  resetEvent: config.resetEvent,
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
      const query = new URL(url, 'http://localhost').searchParams;
      const connection = await open({ topics: query.getAll('topic') });
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
 * what is due every `batchMs`. Each event's number follows the last accepted one: a failed
 * broadcast (Redis away) is tried again with the same number, so clients can check the
 * sequence has no hole. Reports 'done' at the end.
 */
function startBroadcast({ rate, total, payloadBytes = 64, batchMs = 10, topic }) {
  const pad = 'x'.repeat(Math.max(0, payloadBytes - 16));
  const label = topic ?? '*';
  let sent = 0;
  let lastId;
  let failures = 0;
  const failed = () => {
    failures++;
    if (failures > 100) throw new Error('broadcast keeps failing');
  };
  const sendNext = () => {
    const n = sent + 1;
    const accepted = (stored) => {
      lastId = stored?.id;
      sent = n;
    };
    for (;;) {
      try {
        const event = { data: `${label} ${n} ${pad}` };
        const result = topic ? app.hub.broadcastTo(topic, event) : app.hub.broadcast(event);
        if (typeof result?.then !== 'function') return accepted(result);
        return result.then(accepted, () => {
          failed();
          return sendNext();
        });
      } catch {
        failed();
      }
    }
  };
  const run = schedule({ rate, total, sliceMs: batchMs, send: sendNext });
  broadcasting.add(run);
  run.done.then(
    ({ elapsedMs }) => {
      broadcasting.delete(run);
      if (sent >= total) process.send({ type: 'done', topic: label, total: sent, lastId, elapsedMs, failures });
    },
    (error) => process.send({ type: 'error', message: String(error?.stack ?? error) }),
  );
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
  };
}

process.on('message', async (message) => {
  try {
    if (message.cmd === 'broadcast') {
      startBroadcast(message);
      process.send({ type: 'ok', cmd: 'broadcast' });
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

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
 * Usage: node server.mjs '<json config>'   (config: see `defaults` below)
 */
import http from 'node:http';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { core, adapters, loadRedis } from './packages.mjs';

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

function topicsOf(url) {
  return new URL(url, 'http://localhost').searchParams.getAll('topic');
}
function wantsClose(url) {
  return new URL(url, 'http://localhost').searchParams.has('close');
}

let redisClient;
let replayer;
let hub;
if (config.backend === 'redis') {
  const { RedisBroadcaster, Redis } = await loadRedis();
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

/** Builds the app for the configured adapter: `{ server, hub, connectionCount(), shutdown() }`. */
async function build() {
  if (config.adapter === 'core') {
    const handler = core.createSseHandler(options);
    const server = http.createServer(async (req, res) => {
      if (!req.url.startsWith('/events')) {
        res.writeHead(404).end();
        return;
      }
      try {
        const connection = await handler.open(req, res, { topics: topicsOf(req.url) });
        track(connection);
        if (wantsClose(req.url)) connection.close();
      } catch (error) {
        if (!res.headersSent) res.writeHead(error.status ?? 500, error.headers).end(String(error.message));
        else res.destroy();
      }
    });
    return {
      server,
      hub: handler.hub,
      connectionCount: () => handler.connectionCount(),
      shutdown: () => handler.close(),
    };
  }
  const make = adapters[config.adapter];
  if (!make) throw new Error(`unknown adapter ${config.adapter}`);
  return make(options, { topicsOf, wantsClose, track });
}

const app = await build();
const { server } = app;
server.keepAliveTimeout = 1000;
if (app.listen) {
  await app.listen();
} else {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
}

const broadcasting = new Set();
function startBroadcast({ rate, total, payloadBytes = 64, batchMs = 10, topic }) {
  const pad = 'x'.repeat(Math.max(0, payloadBytes - 16));
  const label = topic ?? '*';
  let sent = 0;
  let lastId;
  let failures = 0;
  const t0 = performance.now();
  let busy = false;
  const timer = setInterval(async () => {
    if (busy) return;
    busy = true;
    try {
      const due = Math.min(total, Math.floor(((performance.now() - t0) * rate) / 1000));
      while (sent < due) {
        const n = sent + 1;
        const event = { data: `${label} ${n} ${pad}` };
        try {
          const result = topic ? app.hub.broadcastTo(topic, event) : app.hub.broadcast(event);
          const delivered = typeof result?.then === 'function' ? await result : result;
          lastId = delivered?.id;
          sent = n;
        } catch {
          failures++;
          if (failures > 100) throw new Error('broadcast keeps failing');
        }
      }
      if (sent >= total) {
        clearInterval(timer);
        broadcasting.delete(timer);
        const elapsedMs = performance.now() - t0;
        process.send({ type: 'done', topic: label, total: sent, lastId, elapsedMs, failures });
      }
    } finally {
      busy = false;
    }
  }, batchMs);
  broadcasting.add(timer);
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
    heartbeat: core.heartbeatStats(),
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
      for (const timer of broadcasting) clearInterval(timer);
      await app.shutdown();
      if (!app.closesServer) {
        server.closeAllConnections?.();
        await new Promise((resolve) => server.close(resolve));
      }
      if (hub?.close) await hub.close();
      if (redisClient) redisClient.disconnect();
      process.send({ type: 'closed' });
      process.disconnect();
    }
  } catch (error) {
    process.send({ type: 'error', message: String(error?.stack ?? error) });
  }
});

process.send({ type: 'ready', port: server.address().port, pid: process.pid });

/**
 * The ssekit demo: a live price ticker, a chat feed and an event log on one Express server.
 *
 *   npm run demo                      (from the repository root: install, build, start)
 *   PORT=8080 node examples/demo/server.mjs
 *
 * Routes
 *   GET  /                            the page (public/: plain HTML, CSS and JS, no build step)
 *   GET  /vendor/ssekit-client/       the built @ssekit/client ESM, which the page imports as is
 *   GET  /events?topics=ticker,chat   the event stream; resumes after `Last-Event-ID`
 *   GET  /state                       a snapshot (prices, recent chat) and the id it is current to
 *   POST /chat      {name, text}      broadcasts a chat message to topic `chat`
 *   POST /drop?client=ID              closes that client's stream on purpose, to watch recovery
 *   GET  /stats                       open streams and subscribers per topic
 *
 * Every broadcast goes through the hub's MemoryReplayer, so it carries a replayable id. A page
 * that loses its stream reconnects (with `@ssekit/client`: backoff with jitter) with
 * `Last-Event-ID`, and ssekit replays what it missed before live events resume: no gap, no
 * duplicate. When the id can no longer be replayed (evicted, or from before a restart) the
 * page gets `event: ssekit-reset` and reloads the snapshot instead.
 */
import { createServer } from 'node:http';
import { realpathSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import express from 'express';
import { expressSse } from '@ssekit/express';
import { MemoryReplayer } from '@ssekit/core';

const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));
/** The folder of the built `@ssekit/client` ESM entry (its `dist/`). */
const CLIENT_DIR = dirname(fileURLToPath(import.meta.resolve('@ssekit/client')));
const TOPICS = ['ticker', 'chat'];
const CHAT_HISTORY = 30;
const MAX_NAME = 32;
const MAX_TEXT = 280;

/** Fictional companies with a starting price. */
const LISTINGS = [
  ['ACME', 182.4],
  ['GLOBEX', 64.15],
  ['INITECH', 27.8],
  ['HOOLI', 412.05],
];

/**
 * Starts the demo.
 * @param {object} [options]
 * @param {number} [options.port] - `0` picks a free port. Default: `PORT` or 3000.
 * @param {string} [options.host] - Default: every interface.
 * @param {number} [options.tickMs] - Period of price ticks. Default: 500.
 * @param {(line: string) => void} [options.log] - Default: `console.log`.
 * @returns {Promise<{ url: string, hub: import('@ssekit/core').Hub, server: import('node:http').Server, close: () => Promise<void> }>}
 */
export async function start({ port = Number(process.env.PORT ?? 3000), host, tickMs = 500, log = console.log } = {}) {
  // The last 1000 events stay replayable for 10 minutes (about 8 minutes of ticks).
  const replayer = new MemoryReplayer(1000, 10 * 60_000);
  const sse = expressSse({
    replayer,
    resetEvent: true, // a resume that cannot be replayed gets `event: ssekit-reset`
    retryMs: 1000, // browsers reconnect after 1 s instead of their default 3 s
    heartbeatMs: 15_000,
  });
  const hub = sse.hub;

  // `n` numbers every broadcast of this process in order. The page compares it with the
  // `liveAfter` of the `hello` event to tell replayed events from live ones.
  let n = 0;
  function publish(topic, event, payload) {
    const stamped = { topic, n: ++n, at: Date.now(), ...payload };
    hub.broadcastTo(topic, { event, data: stamped });
    return stamped;
  }

  // Ticker: a random walk per listing, broadcast as one `tick` event carrying every quote.
  const quotes = LISTINGS.map(([symbol, open]) => ({ symbol, open, price: open }));
  let lastTick;
  const ticker = setInterval(() => {
    for (const q of quotes) {
      q.price = Math.max(1, q.price * (1 + (Math.random() - 0.5) * 0.006));
    }
    lastTick = publish('ticker', 'tick', {
      quotes: quotes.map((q) => ({
        symbol: q.symbol,
        price: round(q.price, 2),
        change: round(((q.price - q.open) / q.open) * 100, 2),
      })),
    });
  }, tickMs);

  const chat = [];
  /** Streams by the id the page uses to ask for a drop (a demo: anyone may drop any stream). */
  const clients = new Map();
  let nextClient = 1;

  const app = express();
  app.disable('x-powered-by');
  app.use(sse); // adds res.sse()
  app.use(express.static(PUBLIC_DIR));
  // The page imports the client's ESM build unbundled (index.html maps `@ssekit/client` here).
  app.use('/vendor/ssekit-client', express.static(CLIENT_DIR));

  app.get('/state', (_req, res) => {
    // Read together, in one tick: the snapshot is exactly as of `lastEventId`. A page that opens
    // its stream with `?lastEventId=` this id gets every event after the snapshot, none twice.
    res.set('Cache-Control', 'no-store').json({
      lastEventId: replayer.lastId() ?? null,
      tick: lastTick ?? null,
      chat,
    });
  });

  app.get('/events', async (req, res) => {
    const topics = parseTopics(req.query.topics);
    // Every broadcast numbered up to here was sent before this stream was registered, so this
    // stream can only have it from the replay. Later ones arrive live. (Nothing can broadcast
    // in between: res.sse() registers the stream before it waits on any I/O.)
    const liveAfter = n;
    // Validates topics (400), opens the stream, replays after Last-Event-ID, then goes live.
    // If it rejects before the stream opens, Express answers with the error's status.
    const conn = await res.sse({ topics });
    const client = `c${nextClient++}`;
    clients.set(client, conn);
    conn.onClose(() => clients.delete(client));
    // No `id`: it must not move the browser's Last-Event-ID. If the client is already gone this
    // resolves false; it does not reject.
    await conn.send({
      event: 'hello',
      data: { client, topics, liveAfter, resumedAfter: conn.lastEventId ?? null, gap: conn.replayGap },
    });
  });

  app.post('/chat', express.json({ limit: '4kb' }), (req, res) => {
    const name = typeof req.body?.name === 'string' ? req.body.name.trim() : '';
    const text = typeof req.body?.text === 'string' ? req.body.text.trim() : '';
    if (!text || text.length > MAX_TEXT || name.length > MAX_NAME) {
      res.status(400).json({ error: `text must be 1-${MAX_TEXT} characters, name at most ${MAX_NAME}` });
      return;
    }
    const message = publish('chat', 'chat', { name: name || 'anonymous', text });
    chat.push(message);
    if (chat.length > CHAT_HISTORY) chat.shift();
    res.status(201).json(message);
  });

  app.post('/drop', (req, res) => {
    const conn = clients.get(String(req.query.client ?? ''));
    if (!conn) {
      res.status(404).json({ error: 'no open stream with that client id' });
      return;
    }
    conn.close(); // the page's @ssekit/client reconnects by itself, with Last-Event-ID
    res.status(204).end();
  });

  app.get('/stats', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({
      connections: hub.connectionCount(),
      topics: Object.fromEntries(TOPICS.map((t) => [t, hub.topicCount(t)])),
      lastEventId: replayer.lastId() ?? null,
    });
  });

  // Refusals from res.sse() (400 bad topic, 503 while shutting down, ...) and other errors, as
  // JSON. ssekit's errors carry `status`, `expose` and `headers` (such as `Retry-After`).
  app.use((error, _req, res, next) => {
    if (res.headersSent) return next(error);
    const status = Number.isInteger(error?.status) ? error.status : 500;
    if (status >= 500 && !error?.expose) log(`Error: ${error?.stack ?? error}`);
    res
      .status(status)
      .set(error?.headers ?? {})
      .json({ error: status < 500 || error?.expose ? error.message : 'Internal Server Error' });
  });

  const server = createServer(app);
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port: actualPort } = server.address();
  const url = `http://${host && host !== '0.0.0.0' && host !== '::' ? host : 'localhost'}:${actualPort}`;
  log(`ssekit demo running at ${url}`);

  let closing;
  /** Stops the ticker, ends every stream (with a retry hint), then closes the server. */
  function close() {
    clearInterval(ticker);
    // Stops accepting, ends the streams, drops the keep-alive sockets they leave idle.
    closing ??= sse.close(server);
    return closing;
  }

  return { url, hub, server, close };
}

/** `?topics=ticker,chat` (or repeated `topics=`) to a list; default: both demo topics. */
function parseTopics(query) {
  if (query === undefined) return TOPICS;
  const list = [query].flat().flatMap((value) => String(value).split(','));
  return [...new Set(list.map((t) => t.trim()).filter(Boolean))];
}

function round(value, digits) {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

// Run when executed directly (`node examples/demo/server.mjs`), not when imported.
const isMain = process.argv[1] !== undefined && pathToFileURL(realpathSync(process.argv[1])).href === import.meta.url;
if (isMain) {
  const demo = await start();
  const shutdown = (signal) => {
    console.log(`${signal}: closing streams, then the server`);
    // A second signal, or a shutdown that hangs, ends the process anyway.
    process.once('SIGINT', () => process.exit(1));
    process.once('SIGTERM', () => process.exit(1));
    setTimeout(() => process.exit(1), 5000).unref();
    demo.close().then(
      () => process.exit(0),
      (error) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

// Server-Sent Events in a Hono app: a news stream with Last-Event-ID replay, a POST that
// publishes to it, and the same stream behind Hono's compression middleware (which leaves
// text/event-stream alone, so events still arrive at once).
//   node examples/hono/server.mjs    then    curl -N http://localhost:3002/events
import { serve } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { Hono } from 'hono';
import { compress } from 'hono/compress';
import { fetchSse, MemoryReplayer } from '@ssekit/fetch';

const sse = fetchSse({ replayer: new MemoryReplayer(100), retryMs: 1000, maxConnectionsPerIp: 20 });

const app = new Hono();

// The whole recipe: hand Hono's raw Request to sse.response(). A refusal (bad topic, limits,
// shutdown) comes back as a Response with its status, so there is nothing to catch.
app.get('/events', (c) =>
  sse.response(c.req.raw, { topics: ['news'], ip: getConnInfo(c).remote.address }, (conn) =>
    conn.send({ event: 'welcome', data: { resumed: conn.lastEventId !== undefined, gap: conn.replayGap } }),
  ),
);

app.post('/news', async (c) => {
  const { headline } = await c.req.json();
  const event = sse.hub.broadcastTo('news', { event: 'headline', data: { headline } });
  return c.json({ id: event?.id ?? null });
});

// Compression for everything under /compressed: JSON is gzipped, the event stream is not.
const compressed = new Hono();
compressed.use(compress());
compressed.get('/events', (c) => sse.response(c.req.raw, { topics: ['news'] }));
compressed.get('/info', (c) => c.json({ about: 'x'.repeat(2048) }));
app.route('/compressed', compressed);

const server = serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3002) }, (info) => {
  console.log(`SSE on http://localhost:${info.port}/events`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    await sse.close(); // ends every stream with a retry hint
    server.close(() => process.exit(0));
  });
}

// Server-Sent Events on plain node:http: one stream endpoint, a clock broadcast every second,
// and Last-Event-ID replay so a client that reconnects misses nothing.
//   node examples/node-http/server.mjs      then      curl -N http://localhost:3001/events
import { createServer } from 'node:http';
import { createSseHandler, MemoryReplayer, SseHttpError } from '@ssekit/core';

const sse = createSseHandler({ replayer: new MemoryReplayer(100), retryMs: 1000 });

const server = createServer(async (req, res) => {
  if (!req.url?.startsWith('/events')) return void res.writeHead(404).end('Try /events\n');
  try {
    // Registers the stream on the hub, subscribes it and replays what it missed.
    await sse.open(req, res, { topics: ['clock'] });
  } catch (error) {
    // Refusals (bad topic, limits, shutdown) happen before the stream opens.
    if (!(error instanceof SseHttpError) || res.headersSent) return void res.destroy();
    res.writeHead(error.status, error.headers).end(`${error.message}\n`);
  }
});

const clock = setInterval(() => {
  sse.hub.broadcastTo('clock', { event: 'time', data: { now: new Date().toISOString() } });
}, 1000);

server.listen(Number(process.env.PORT ?? 3001), () => {
  console.log(`SSE on http://localhost:${server.address().port}/events`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    clearInterval(clock);
    await sse.close(); // ends every stream with a retry hint
    server.close();
  });
}

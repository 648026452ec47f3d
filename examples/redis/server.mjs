// One app instance; start several against the same Redis and they share one event stream.
//
//   redis-server --port 6379 --save '' &
//   PORT=3001 node examples/redis/server.mjs &
//   PORT=3002 node examples/redis/server.mjs &
//   curl -N http://localhost:3001/events &                       # a client on instance 1
//   curl -X POST --data 'hello' http://localhost:3002/broadcast   # broadcast on instance 2
//   curl -N -H 'Last-Event-ID: <an id you saw>' http://localhost:3002/events   # resume elsewhere
//   curl -i http://localhost:3001/readyz   # 503 within milliseconds of a Redis blip, 200 once back
//   curl -i http://localhost:3001/livez    # 200 while the process answers, Redis or not
//
// Environment: PORT (3001), REDIS_HOST (127.0.0.1), REDIS_PORT (6379), NAMESPACE (default).
import { createServer } from 'node:http';
import { createSseHandler, SseHttpError } from '@ssekit/core';
import { RedisBroadcaster } from '@ssekit/redis';

const port = Number(process.env.PORT ?? 3001);
const broadcaster = new RedisBroadcaster({
  redis: { host: process.env.REDIS_HOST ?? '127.0.0.1', port: Number(process.env.REDIS_PORT ?? 6379) },
  namespace: process.env.NAMESPACE ?? 'default',
});
// The broadcaster is both the hub (where streams register) and the replayer (Last-Event-ID).
const sse = createSseHandler({ hub: broadcaster, replayer: broadcaster, resetEvent: true, retryMs: 1000 });

async function body(req) {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text;
}

let stopping = false;

const server = createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  try {
    // Readiness: take this instance out of the load balancer while Redis is unreachable (or the
    // reader is reconnecting) and while it shuts down. health() reads connection state kept
    // anyway, so it costs no Redis round trip however often the probe asks.
    if (req.method === 'GET' && url.pathname === '/readyz') {
      const health = broadcaster.health();
      const ready = health.ready && !stopping;
      res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ ...health, ready }));
      return;
    }
    // Liveness: only "the process answers". Failing it on a Redis blip would restart every
    // instance at once, and their clients would all reconnect and replay: a storm, no cure.
    if (req.method === 'GET' && url.pathname === '/livez') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ live: true, connections: broadcaster.connectionCount() }));
      return;
    }
    if (req.method === 'GET' && url.pathname === '/events') {
      const topics = url.searchParams.getAll('topic');
      await sse.open(req, res, { topics });
      return;
    }
    if (req.method === 'POST' && url.pathname === '/broadcast') {
      const topic = url.searchParams.get('topic');
      const event = { event: url.searchParams.get('event') ?? undefined, data: await body(req) };
      const stored = topic ? await broadcaster.broadcastTo(topic, event) : await broadcaster.broadcast(event);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: stored.id, instance: port }));
      return;
    }
    res.writeHead(404).end();
  } catch (error) {
    // SseHttpError: a refused stream (400/403/503); RedisUnavailableError (code 'unavailable'):
    // Redis is down and the broadcast was not taken.
    const status = error instanceof SseHttpError ? error.status : error?.code === 'unavailable' ? 503 : 500;
    if (!res.headersSent) res.writeHead(status, { 'content-type': 'text/plain' }).end(`${error.message}\n`);
  }
});

await broadcaster.ready();
server.listen(port, () => console.log(`instance on http://localhost:${server.address().port} (namespace ${broadcaster.namespace})`));

async function shutdown() {
  stopping = true;
  await sse.close();
  await broadcaster.close();
  server.close();
}
// Nothing else keeps the process alive: it exits once streams, Redis and the server are closed.
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);

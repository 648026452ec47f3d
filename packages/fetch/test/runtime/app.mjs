// The app the contract suite runs on every runtime: one event-stream route on @ssekit/fetch and
// a control surface that reports what only the server sees (open streams, close reasons, memory)
// and triggers broadcasts from inside the process. Plain ESM on Web APIs, so Node, Bun and Deno
// all load it unchanged. Options come as JSON in SSEKIT_OPTIONS.
import { fetchSse, MemoryReplayer } from '../../dist/index.mjs';

/** Builds the fetch handler from the JSON options the test passed. */
export function createApp(config = {}) {
  const { replayEvents, auth, ...options } = config;
  if (replayEvents) options.replayer = new MemoryReplayer(replayEvents);
  if (auth) options.authorize = (request) => request.headers.get('authorization') === 'Bearer ok';
  const sse = fetchSse(options);
  const closes = [];
  let opened = 0;

  const json = (body, status = 200) =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

  async function fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/events') {
      const topics = url.searchParams.get('topics');
      return sse.response(
        request,
        {
          topics: topics ? topics.split(',') : [],
          replay: url.searchParams.get('replay') !== '0',
          ip: request.headers.get('x-test-ip') ?? undefined,
        },
        async (conn) => {
          opened++;
          conn.onClose((reason) => closes.push({ reason, at: Date.now() }));
          if (url.searchParams.has('hello')) await conn.send({ event: 'hello', data: { gap: conn.replayGap } });
        },
      );
    }
    if (url.pathname === '/control/stats') {
      const memory = process.memoryUsage();
      return json({ open: sse.connectionCount(), hub: sse.hub.connectionCount(), opened, closes, rss: memory.rss });
    }
    if (url.pathname === '/control/broadcast' && request.method === 'POST') {
      const { topic, events } = await request.json();
      const sent = events.map((event) => (topic ? sse.hub.broadcastTo(topic, event) : sse.hub.broadcast(event)));
      return json({ ids: sent.map((event) => event?.id ?? null) });
    }
    if (url.pathname === '/control/flood' && request.method === 'POST') {
      // Large broadcasts made here, so the test's control request stays small.
      const bytes = Number(url.searchParams.get('bytes'));
      const count = Number(url.searchParams.get('count'));
      const data = 'x'.repeat(bytes);
      for (let i = 0; i < count; i++) sse.hub.broadcast({ event: 'flood', data });
      return json({ sent: count });
    }
    if (url.pathname === '/control/close' && request.method === 'POST') {
      await sse.close();
      return json({ closed: true });
    }
    return new Response('not found\n', { status: 404 });
  }

  return { fetch, sse };
}

/** The options of this process. */
export function configFromEnv(env) {
  return env.SSEKIT_OPTIONS ? JSON.parse(env.SSEKIT_OPTIONS) : {};
}

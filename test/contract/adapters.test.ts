/**
 * The adapter contract: every behaviour the design promises, run against Express, Fastify and
 * Koa alike. Real servers on port 0, real clients, bounded waits.
 */
import { EventSource } from 'eventsource';
import { Hub, MemoryReplayer, type Broadcaster, type Connection } from '@ssekit/core';
import { connect, connectStalled, fetchPlain, track, waitFor, type SseClient } from '@ssekit/testkit';
import { adapters, type ContractOptions, type Route, type RunningApp, type StartOptions } from '@ssekit/testkit/adapters';

/** What `?late` routes got back from writing after their client left. */
const lateWrites: boolean[][] = [];

/**
 * The route every test uses: topics from `?topic=`, `?hello` sends one event right after the
 * stream opens (telling whether replay found a gap), `?fail` throws before `sse()`, `?late`
 * waits for the client to leave and then writes, the way an Express 4 route that does not
 * catch would.
 */
const route: Route = async ({ sse, query }) => {
  if (query.has('fail')) throw new Error('route failed before sse()');
  const conn = await sse({ topics: query.getAll('topic') });
  if (query.has('hello')) await conn.send({ event: 'hello', data: `gap=${conn.replayGap}` });
  if (query.has('late')) {
    await conn.closedPromise();
    lateWrites.push([await conn.send({ data: 'late' }), await conn.sendComment('late'), await conn.setRetry(1000), await conn.pipe(['late'])]);
  }
};

describe.each(adapters)('$name adapter', (adapter) => {
  // Apps and clients are closed after each test by the kit's cleanup registry.
  const start = (options: ContractOptions = {}, startOptions?: StartOptions): Promise<RunningApp> => adapter.start(options, route, startOptions);
  const open = (url: string, headers?: Record<string, string>): Promise<SseClient> => connect(url, headers);

  const count = async (app: RunningApp): Promise<number> => app.hub.connectionCount();

  test('answers with the event-stream headers', async () => {
    const app = await start();
    const client = await open(app.url);
    expect(client.status).toBe(200);
    expect(client.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(client.headers['cache-control']).toBe('no-cache, no-transform');
    expect(client.headers['x-accel-buffering']).toBe('no');
    expect(client.headers['connection']).toBe('keep-alive');
    expect(client.headers['content-length']).toBeUndefined();
  });

  test('delivers events in order to an EventSource client, with no framework warnings', async () => {
    const app = await start();
    const es = new EventSource(app.url);
    track(() => es.close());
    const received: string[] = [];
    es.onmessage = (message) => received.push(message.data);
    await waitFor(async () => (await count(app)) === 1, 2000, 'the stream to register');
    for (const data of ['one', 'two', 'three']) await app.hub.broadcast({ data });
    await waitFor(() => received.length === 3, 2000, 'three messages');
    expect(received).toEqual(['one', 'two', 'three']);
    es.close();
    await waitFor(async () => (await count(app)) === 0, 1000, 'the stream to unregister');
    expect(app.logs).toEqual([]);
  });

  test('keeps topics apart', async () => {
    const app = await start();
    const a = await open(`${app.url}?topic=a`);
    const b = await open(`${app.url}?topic=b`);
    await waitFor(async () => (await app.hub.topicCount('a')) === 1 && (await app.hub.topicCount('b')) === 1);
    await app.hub.broadcastTo('a', { data: 'for a' });
    await app.hub.broadcastTo('b', { data: 'for b' });
    await app.hub.broadcast({ data: 'for all' });
    expect((await a.take(2)).map((e) => e.data)).toEqual(['for a', 'for all']);
    expect((await b.take(2)).map((e) => e.data)).toEqual(['for b', 'for all']);
  });

  describe.each([
    ['the Last-Event-ID header', (url: string, id: string) => open(url, { 'Last-Event-ID': id })],
    ['the lastEventId query parameter', (url: string, id: string) => open(`${url}?lastEventId=${encodeURIComponent(id)}`)],
  ])('replay after %s', (_how, reconnect) => {
    test('sends exactly the missed events, then live ones', async () => {
      const app = await start({ replayer: new MemoryReplayer(100) });
      const ids: string[] = [];
      for (let i = 1; i <= 5; i++) ids.push((await app.hub.broadcast({ data: `e${i}` }))!.id!);
      const client = await reconnect(app.url, ids[1]!);
      const replayed = await client.take(3);
      expect(replayed.map((e) => [e.id, e.data])).toEqual([
        [ids[2], 'e3'],
        [ids[3], 'e4'],
        [ids[4], 'e5'],
      ]);
      await app.hub.broadcast({ data: 'e6' });
      await app.hub.broadcast({ data: 'e7' });
      expect((await client.take(2)).map((e) => e.data)).toEqual(['e6', 'e7']);
      expect(client.events).toHaveLength(5);
    });
  });

  test('exposes an unknown id as a gap and sends the reset event', async () => {
    const app = await start({ replayer: new MemoryReplayer(100), resetEvent: true });
    await app.hub.broadcast({ data: 'before' });
    const client = await open(`${app.url}?hello`, { 'Last-Event-ID': 'from-another-process-7' });
    const [reset, hello] = await client.take(2);
    expect(reset).toMatchObject({ event: 'ssekit-reset', data: 'gap' });
    expect(hello).toMatchObject({ event: 'hello', data: 'gap=true' });
    expect(app.connections[0]!.replayGap).toBe(true);
  });

  test('sends heartbeat comments at the configured period', async () => {
    const app = await start({ heartbeatMs: 50 });
    const client = await open(app.url);
    await waitFor(() => client.comments.length >= 5, 2000, 'five heartbeats');
    const at = client.comments.slice(0, 5).map((c) => c.at);
    // One per period: never a burst, and on average close to 50 ms (timers may run late
    // under load, never early).
    for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(25);
    const average = (at[4]! - at[0]!) / 4;
    expect(average).toBeGreaterThanOrEqual(40);
    expect(average).toBeLessThan(150);
    expect(client.comments.every((c) => c.text === '')).toBe(true);
    expect(client.events).toEqual([]);
  });

  test('unregisters a client that disconnects within 100 ms', async () => {
    const app = await start();
    const client = await open(`${app.url}?topic=t`);
    await waitFor(async () => (await count(app)) === 1);
    client.close();
    await waitFor(async () => (await count(app)) === 0 && (await app.hub.topicCount('t')) === 0, 100, 'unregistration');
    expect(app.connections[0]!.closeReason).toBe('client');
  });

  test('treats a client that resets its connection as a normal close, not a logged error', async () => {
    const app = await start();
    const client = await connectStalled(app.url);
    await waitFor(async () => (await count(app)) === 1);
    client.reset();
    await waitFor(async () => (await count(app)) === 0, 100, 'unregistration');
    expect(app.connections[0]!.closeReason).toBe('client');
    // Give a late error report the chance to arrive before looking.
    await new Promise((resolve) => setImmediate(resolve));
    expect(app.logs).toEqual([]);
  });

  test('ends every stream on server shutdown, promptly and with a retry hint spread over the default window', async () => {
    const app = await start();
    const clients = [await open(`${app.url}?topic=a`), await open(`${app.url}?topic=b`)];
    await waitFor(async () => (await count(app)) === 2);
    const began = Date.now();
    await app.shutdown();
    expect(Date.now() - began).toBeLessThan(1000);
    for (const client of clients) {
      await client.waitEnd(500);
      // shutdownRetryMs (1000) plus a jitter of 0 to 5000 ms.
      expect(client.retries).toHaveLength(1);
      expect(client.retries[0]).toBeGreaterThanOrEqual(1000);
      expect(client.retries[0]).toBeLessThanOrEqual(6000);
    }
    expect(await count(app)).toBe(0);
    expect(app.connections.map((c) => c.closeReason)).toEqual(['server', 'server']);
    await expect(fetchPlain(app.url)).rejects.toThrow();
  });

  test('closes a slow client as slow while a fast one keeps receiving', async () => {
    const app = await start({ maxBufferedBytes: 64 * 1024, heartbeatMs: 0 });
    const fast = await open(app.url);
    await waitFor(async () => (await count(app)) === 1);
    await connectStalled(app.url); // kept open, never read, closed by the cleanup registry
    await waitFor(async () => (await count(app)) === 2);
    const [fastConn, slowConn] = app.connections as [Connection, Connection];
    const payload = 'x'.repeat(16 * 1024);
    // The stalled client's kernel buffers absorb a few MB first; the loop bound is far above.
    for (let i = 0; i < 4000 && !slowConn.closed; i++) {
      await app.hub.broadcast({ event: 'tick', data: `${i} ${payload}` });
      // Waiting for the fast client keeps its own buffer near one event: it is never slow.
      expect((await fast.next()).data.startsWith(`${i} `)).toBe(true);
    }
    expect(slowConn.closeReason).toBe('slow');
    await app.hub.broadcast({ data: 'after' });
    expect((await fast.next()).data).toBe('after');
    expect(fastConn.closed).toBe(false);
    expect(await count(app)).toBe(1);
  });

  test("counts its own streams, like the hub's count", async () => {
    const app = await start();
    expect(app.connectionCount()).toBe(0);
    const client = await open(app.url);
    await waitFor(() => app.connectionCount() === 1, 2000, 'the adapter to count the stream');
    expect(await count(app)).toBe(1);
    client.close();
    await waitFor(() => app.connectionCount() === 0, 2000, 'the stream to leave the count');
  });

  test('writing after the client left resolves false: no unhandled rejection, nothing logged', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    track(() => process.off('unhandledRejection', onUnhandled));
    lateWrites.length = 0;
    const app = await start();
    const client = await open(`${app.url}?late`);
    await waitFor(async () => (await count(app)) === 1, 2000, 'the stream to register');
    client.close();
    // The route ends by recording what its writes resolved to, or fails (logged or unhandled).
    await waitFor(() => lateWrites.length === 1 || app.logs.length > 0 || unhandled.length > 0, 2000, 'the route to write after the client left');
    expect(lateWrites).toEqual([[false, false, false, false]]);
    // The route has returned; what its promise could still cause (a framework log, an unhandled
    // rejection, reported after the microtasks of this turn) surfaces within two turns.
    for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(unhandled).toEqual([]);
    expect(app.logs).toEqual([]);
    expect(app.connections[0]!.closeReason).toBe('client');
  });

  test('rejects bad options at registration', async () => {
    await expect(adapter.register({ heartbeatMs: -1 })).rejects.toMatchObject({ code: 'options', option: 'heartbeatMs' });
    await expect(adapter.register({ hub: { broadcast() {} } })).rejects.toMatchObject({ code: 'options', option: 'hub' });
    await expect(adapter.register({ heartbeatMS: 1000 })).rejects.toThrow('Invalid option "heartbeatMS": unknown option (did you mean heartbeatMs?)');
  });

  test('answers 400 to an invalid topic, before the stream opens', async () => {
    const app = await start();
    for (const topic of ['', 'x'.repeat(257), 'a\u0001b']) {
      const res = await fetchPlain(`${app.url}?topic=${encodeURIComponent(topic)}`);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).not.toMatch(/event-stream/);
      expect(res.body).toMatch(/Invalid topic/);
    }
    expect(await count(app)).toBe(0);
  });

  test('answers 503 with Retry-After over maxConnections', async () => {
    const app = await start({ maxConnections: 1 });
    await open(app.url);
    const res = await fetchPlain(app.url);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.headers['content-type']).not.toMatch(/event-stream/);
    expect(await count(app)).toBe(1);
  });

  test('paces connects over maxConnectsPerSecond: 200, a retry hint, the stream ended, nothing registered', async () => {
    const app = await start({ maxConnectsPerSecond: 1 });
    await open(app.url);
    await waitFor(async () => (await count(app)) === 1, 2000, 'the first stream to register');
    const paced = await open(app.url);
    expect(paced.status).toBe(200);
    expect(paced.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    await waitFor(() => paced.ended, 2000, 'the paced stream to end');
    expect(paced.retries).toHaveLength(1);
    expect(paced.retries[0]).toBeGreaterThanOrEqual(500);
    expect(paced.events).toEqual([]);
    // sse() resolved with the connection, already closed.
    await waitFor(() => app.connections.length === 2, 2000, 'sse() to resolve');
    expect(app.connections[1]!.closed).toBe(true);
    expect(await count(app)).toBe(1);
    expect(app.logs).toEqual([]);
  });

  test('answers 429 with Retry-After over maxConnectionsPerIp', async () => {
    const app = await start({ maxConnectionsPerIp: 1, retryAfterSeconds: 7 });
    await open(app.url);
    const res = await fetchPlain(app.url);
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('7');
    expect(res.headers['content-type']).not.toMatch(/event-stream/);
    expect(await count(app)).toBe(1);
  });

  test('answers 403 when authorize refuses, and registers nothing', async () => {
    const seen: (readonly string[])[] = [];
    const app = await start({
      authorize: (_request, topics) => {
        seen.push(topics);
        return Promise.resolve(false);
      },
    });
    const res = await fetchPlain(`${app.url}?topic=secret`);
    expect(res.status).toBe(403);
    expect(res.body).toMatch(/Forbidden/);
    expect(res.headers['content-type']).not.toMatch(/event-stream/);
    expect(seen).toEqual([['secret']]);
    expect(await count(app)).toBe(0);
    expect(app.connections).toEqual([]);
  });

  test('delivers events promptly behind the compression middleware (Accept-Encoding: gzip)', async () => {
    const app = await start({}, { compress: true });
    const client = await open(`${app.url}?hello`, { 'Accept-Encoding': 'gzip' });
    expect(client.status).toBe(200);
    expect((await client.next(500)).event).toBe('hello');
    await app.hub.broadcast({ data: 'prompt' });
    expect((await client.next(500)).data).toBe('prompt');
    // Cache-Control: no-transform asks intermediaries, compression included, to pass it as is.
    expect(client.headers['content-encoding']).toBeUndefined();
  });

  test('keeps the headers earlier middleware set (CORS) on the stream', async () => {
    const app = await start({}, { cors: true });
    const client = await open(app.url, { Origin: 'http://elsewhere.example' });
    expect(client.status).toBe(200);
    expect(client.headers['access-control-allow-origin']).toBe('*');
    expect(client.headers['content-type']).toBe('text/event-stream; charset=utf-8');
  });

  test('a hub that fails to register the stream ends it, with no second response on top', async () => {
    const hub = new Hub();
    const failing: Broadcaster = {
      register: () => {
        throw new Error('registry down');
      },
      unregister: (c) => hub.unregister(c),
      subscribe: (c, t) => hub.subscribe(c, t),
      unsubscribe: (c, t) => hub.unsubscribe(c, t),
      broadcast: (e) => hub.broadcast(e),
      broadcastTo: (t, e) => hub.broadcastTo(t, e),
      connectionCount: () => hub.connectionCount(),
      topicCount: (t) => hub.topicCount(t),
    };
    const app = await start({ hub: failing });
    const client = await open(app.url);
    expect(client.status).toBe(200);
    await client.waitEnd(1000);
    expect(app.connections).toEqual([]);
    expect(app.logs.join('\n')).not.toMatch(/HEADERS_SENT|already sent/i);
  });

  test('an error thrown before sse() gets the framework error response', async () => {
    const app = await start();
    const res = await fetchPlain(`${app.url}?fail`);
    expect(res.status).toBe(500);
    expect(res.headers['content-type']).not.toMatch(/event-stream/);
    expect(await count(app)).toBe(0);
  });
});

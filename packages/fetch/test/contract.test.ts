/**
 * The Fetch contract: the behaviours the adapters promise, on three real runtimes. Each app is
 * its own process (Node 20 through @hono/node-server, Bun.serve, Deno.serve) running
 * `test/runtime/app.mjs` on the built package; what only the server knows (open streams, close
 * reasons and times, memory) comes from its control endpoints.
 */
import { resolve } from 'node:path';
import { connect, connectStalled, fetchPlain, waitFor, type SseClient } from '@ssekit/testkit';
import { RUNTIMES, startRuntime, type RuntimeName, type RuntimeProcess } from './runtimes';

const SCRIPTS = resolve(__dirname, 'runtime');

interface Stats {
  open: number;
  hub: number;
  opened: number;
  closes: { reason: string; at: number }[];
  rss: number;
}

describe.each(RUNTIMES)('@ssekit/fetch on %s', (runtime: RuntimeName) => {
  async function start(options: Record<string, unknown> = {}): Promise<RuntimeProcess> {
    return startRuntime(runtime, resolve(SCRIPTS, `${runtime}.mjs`), { SSEKIT_OPTIONS: JSON.stringify(options) });
  }

  async function open(app: RuntimeProcess, path = '/events', headers?: Record<string, string>): Promise<SseClient> {
    return connect(app.url + path, headers);
  }

  async function stats(app: RuntimeProcess): Promise<Stats> {
    const res = await fetch(`${app.url}/control/stats`);
    return (await res.json()) as Stats;
  }

  async function broadcast(app: RuntimeProcess, events: Record<string, unknown>[], topic?: string): Promise<string[]> {
    const res = await fetch(`${app.url}/control/broadcast`, { method: 'POST', body: JSON.stringify({ topic, events }) });
    return ((await res.json()) as { ids: string[] }).ids;
  }

  /** Waits until the app has `n` streams open and registered on its hub. */
  const registered = (app: RuntimeProcess, n: number): Promise<void> =>
    waitFor(async () => {
      const s = await stats(app);
      return s.open === n && s.hub === n;
    }, 5000, `${n} registered streams on ${runtime}`);

  test('answers at once with the event-stream headers, an opening comment and no framing headers', async () => {
    const app = await start();
    const client = await open(app);
    expect(client.status).toBe(200);
    expect(client.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(client.headers['cache-control']).toBe('no-cache, no-transform');
    expect(client.headers['x-accel-buffering']).toBe('no');
    expect(client.headers['content-length']).toBeUndefined();
    // Connection-specific framing is the runtime's (it answers this client's `Connection:
    // close`); the app's own Response carries none (see fetch-sse.test.ts).
    await waitFor(() => client.comments.length > 0, 2000, 'the opening comment');
  });

  test('encodes events exactly: multi-line data, JSON, non-ASCII, names and ids', async () => {
    const app = await start();
    const client = await open(app);
    await registered(app, 1);
    await broadcast(app, [
      { data: 'line one\nline two\r\n\n  indented' },
      { event: 'json', data: { price: 1.5, name: 'zürich ☃' } },
      { event: 'named', id: 'custom-1', data: '' },
    ]);
    const [a, b, c] = await client.take(3);
    expect(a).toMatchObject({ data: 'line one\nline two\n\n  indented' });
    expect(b).toMatchObject({ event: 'json', data: '{"price":1.5,"name":"zürich ☃"}' });
    expect(c).toMatchObject({ event: 'named', id: 'custom-1', data: '' });
  });

  test('delivers topic broadcasts only to subscribers, and untargeted ones to all', async () => {
    const app = await start();
    const news = await open(app, '/events?topics=news');
    const sport = await open(app, '/events?topics=sport,news2');
    await registered(app, 2);
    await broadcast(app, [{ data: 'for news' }], 'news');
    await broadcast(app, [{ data: 'for sport' }], 'sport');
    await broadcast(app, [{ data: 'for all' }]);
    expect((await news.take(2)).map((e) => e.data)).toEqual(['for news', 'for all']);
    expect((await sport.take(2)).map((e) => e.data)).toEqual(['for sport', 'for all']);
  });

  test('replays what a client missed after Last-Event-ID (header or query), and reports a gap', async () => {
    const app = await start({ replayEvents: 100 });
    const ids = await broadcast(app, [{ data: 'a' }, { data: 'b' }, { data: 'c' }], 'news');
    const resumed = await open(app, '/events?topics=news&hello', { 'Last-Event-ID': ids[0]! });
    const [b, c, hello] = await resumed.take(3);
    expect([b?.data, b?.id, c?.data, c?.id]).toEqual(['b', ids[1], 'c', ids[2]]);
    expect(hello).toMatchObject({ event: 'hello', data: '{"gap":false}' });
    await broadcast(app, [{ data: 'live' }], 'news');
    expect((await resumed.next()).data).toBe('live');

    const polyfill = await open(app, `/events?topics=news&lastEventId=${encodeURIComponent(ids[1]!)}`);
    expect((await polyfill.take(2)).map((e) => e.data)).toEqual(['c', 'live']);

    const lost = await open(app, '/events?topics=news&hello', { 'Last-Event-ID': 'unknown-7' });
    expect(await lost.next()).toMatchObject({ event: 'hello', data: '{"gap":true}' });

    const fresh = await open(app, '/events?topics=news&hello&replay=0', { 'Last-Event-ID': ids[0]! });
    expect(await fresh.next()).toMatchObject({ event: 'hello', data: '{"gap":false}' });
  });

  test('sends heartbeat comments on an idle stream', async () => {
    const app = await start({ heartbeatMs: 100 });
    const client = await open(app);
    await waitFor(() => client.comments.length >= 3, 3000, 'three comments (opening and two heartbeats)');
    expect(client.ended).toBe(false);
  });

  test('unregisters a client that leaves within 100 ms', async () => {
    const app = await start();
    const client = await open(app);
    await registered(app, 1);
    const left = Date.now();
    client.close();
    await waitFor(async () => (await stats(app)).closes.length === 1, 3000, 'the close on the server');
    const after = await stats(app);
    expect(after.closes[0]!.reason).toBe('client');
    expect(after.closes[0]!.at - left).toBeLessThan(100);
    expect([after.open, after.hub]).toEqual([0, 0]);
    expect(app.output()).not.toMatch(/error/i);
  });

  test('refuses with plain responses: 400 bad topic, 403 authorize, 429 per address, 503 limit', async () => {
    const app = await start({ auth: true, maxConnections: 2, maxConnectionsPerIp: 1, retryAfterSeconds: 7 });
    const ok = { authorization: 'Bearer ok' };
    const bad = await fetchPlain(`${app.url}/events?topics=${encodeURIComponent('bad\ntopic')}`, ok);
    expect(bad.status).toBe(400);
    expect((await fetchPlain(`${app.url}/events`, { authorization: 'Bearer no', 'x-test-ip': '10.0.0.1' })).status).toBe(403);
    await open(app, '/events', { ...ok, 'x-test-ip': '10.0.0.1' });
    const perIp = await fetchPlain(`${app.url}/events`, { ...ok, 'x-test-ip': '10.0.0.1' });
    expect([perIp.status, perIp.headers['retry-after']]).toEqual([429, '7']);
    await open(app, '/events', { ...ok, 'x-test-ip': '10.0.0.2' });
    const full = await fetchPlain(`${app.url}/events`, { ...ok, 'x-test-ip': '10.0.0.3' });
    expect([full.status, full.headers['retry-after']]).toEqual([503, '7']);
    const s = await stats(app);
    expect([s.open, s.hub]).toEqual([2, 2]);
  });

  test('closes a client that stops reading as slow, with bounded memory, while another reads everything', async () => {
    const limit = 256 * 1024;
    const app = await start({ maxBufferedBytes: limit });
    const reader = await open(app);
    await connectStalled(`${app.url}/events`);
    await registered(app, 2);
    const before = (await stats(app)).rss;
    // 8 x 16 KiB per round, each round read by the reader before the next: only the stalled
    // client falls behind, until its socket buffers and then its stream queue are full.
    let sent = 0;
    let closed: Stats['closes'] = [];
    for (let round = 0; round < 400 && closed.length === 0; round++) {
      await fetch(`${app.url}/control/flood?bytes=16384&count=8`, { method: 'POST' });
      sent += 8;
      await waitFor(() => reader.events.length === sent, 5000, `round ${round} at the reader`);
      closed = (await stats(app)).closes;
    }
    expect(closed.map((c) => c.reason)).toEqual(['slow']);
    const after = await stats(app);
    expect([after.open, after.hub]).toEqual([1, 1]);
    // What the stalled client made the server hold: its queue (the limit) plus what the runtime
    // and kernel buffered; far below the megabytes that were sent meanwhile.
    expect(after.rss - before).toBeLessThan(48 * 1024 * 1024);
    expect(sent * 16384).toBeGreaterThan(limit);
    await fetch(`${app.url}/control/flood?bytes=10&count=1`, { method: 'POST' });
    await waitFor(() => reader.events.length === sent + 1, 2000, 'the reader to keep reading');
    // A slow client is not a server error: the runtime must not log one.
    expect(app.output()).not.toMatch(/error/i);
  });

  test('shutdown ends every stream with a final retry hint and refuses new ones with 503', async () => {
    const app = await start({ shutdownRetryMs: 4321, shutdownRetryJitterMs: 0 });
    const a = await open(app);
    const b = await open(app, '/events?topics=news');
    await registered(app, 2);
    const res = await fetch(`${app.url}/control/close`, { method: 'POST' });
    expect(res.status).toBe(200);
    await a.waitEnd();
    await b.waitEnd();
    expect([a.retries.at(-1), b.retries.at(-1)]).toEqual([4321, 4321]);
    const refused = await fetchPlain(`${app.url}/events`);
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBeDefined();
    const s = await stats(app);
    expect([s.open, s.hub]).toEqual([0, 0]);
  });

  if (runtime === 'bun') {
    test("the default heartbeat keeps a stream open past Bun's 10 s idle timeout", async () => {
      const app = await start();
      const client = await open(app);
      await registered(app, 1);
      await new Promise((done) => setTimeout(done, 10_500));
      expect(client.ended).toBe(false);
      expect(client.comments.length).toBeGreaterThanOrEqual(2);
      await broadcast(app, [{ data: 'still here' }]);
      expect((await client.next()).data).toBe('still here');
    }, 20_000);
  }
});

/**
 * The `metrics` option on every adapter, read back from a real OpenTelemetry SDK (an in-memory
 * exporter), and the `stats()` snapshot beside it: the instrument names, their attributes and
 * their values after a known sequence of opens, refusals, broadcasts, replays and closes.
 */
import { Hub, MemoryReplayer } from '@ssekit/core';
import { connect, fetchPlain, waitFor, type SseClient } from '@ssekit/testkit';
import { adapters, type ContractOptions, type Route, type RunningApp } from '@ssekit/testkit/adapters';
import { memoryMetrics, type MemoryMetrics } from '@ssekit/testkit/metrics';

/** Topics from `?topic=`. */
const route: Route = async ({ sse, query }) => {
  await sse({ topics: query.getAll('topic') });
};

describe.each(adapters)('$name adapter', (adapter) => {
  let otel: MemoryMetrics;
  let app: RunningApp;
  const start = async (options: ContractOptions): Promise<RunningApp> => {
    otel = memoryMetrics();
    app = await adapter.start({ heartbeatMs: 0, ...options, metrics: otel.meter }, route);
    return app;
  };
  const open = (query: string, headers?: Record<string, string>): Promise<SseClient> => connect(`${app.url}${query}`, headers);

  test('records connections, refusals, broadcasts, deliveries, replays and closes', async () => {
    const replayer = new MemoryReplayer(100);
    await start({
      hub: new Hub({ replayer }),
      replayer,
      maxConnectionsPerIp: 5,
      shutdownRetryJitterMs: 0,
      authorize: (_request, topics) => !topics.includes('secret'),
    });
    const a1 = await open('?topic=a');
    const a2 = await open('?topic=a');
    const b = await open('?topic=b');
    await waitFor(() => app.hub.connectionCount() === 3, 2000, 'three streams');

    // Refusals: an invalid topic, authorize saying no, and the sixth stream from one address.
    expect((await fetchPlain(`${app.url}?topic=${'x'.repeat(300)}`)).status).toBe(400);
    expect((await fetchPlain(`${app.url}?topic=secret`)).status).toBe(403);
    const extra = [await open('?topic=a'), await open('?topic=c')];
    expect((await fetchPlain(`${app.url}?topic=a`)).status).toBe(429);
    for (const client of extra) client.close();
    await waitFor(() => app.connectionCount() === 3, 2000, 'the extra streams to close');

    for (const data of ['one', 'two', 'three']) app.hub.broadcast({ data });
    app.hub.broadcastTo('a', { data: 'to a' });
    app.hub.broadcastTo('nobody', { data: 'to no one' });
    const seen = await a1.take(4);
    await a2.take(4);
    await b.take(3);

    // Resuming after "one" replays two, three and "to a"; an unknown id is a gap.
    const resumed = await open('?topic=a', { 'Last-Event-ID': seen[0]!.id! });
    expect((await resumed.take(3)).map((e) => e.data)).toEqual(['two', 'three', 'to a']);
    await open('?topic=b', { 'Last-Event-ID': 'no-such-id' });
    await waitFor(() => app.connectionCount() === 5, 2000, 'five streams');

    const m = await otel.read();
    const sum = (name: string, attributes: Record<string, string> = {}): number =>
      (m.get(name) ?? []).find((p) => JSON.stringify(p.attributes) === JSON.stringify(attributes))?.value ?? 0;
    expect(sum('ssekit.connections')).toBe(5);
    expect(sum('ssekit.connections.opened')).toBe(7);
    expect(sum('ssekit.connections.closed', { reason: 'client' })).toBe(2);
    expect(sum('ssekit.connections.rejected', { reason: 'topic' })).toBe(1);
    expect(sum('ssekit.connections.rejected', { reason: 'auth' })).toBe(1);
    expect(sum('ssekit.connections.rejected', { reason: 'ip_limit' })).toBe(1);
    expect(sum('ssekit.events.broadcast')).toBe(5);
    expect(sum('ssekit.events.delivered')).toBe(3 * 3 + 2);
    expect(sum('ssekit.replays', { outcome: 'ok' })).toBe(1);
    expect(sum('ssekit.replays', { outcome: 'gap' })).toBe(1);
    expect(m.get('ssekit.replay.events')).toEqual([{ attributes: {}, value: 3, count: 2 }]);
    const duration = m.get('ssekit.replay.duration')![0]!;
    expect(duration.count).toBe(2);
    expect(duration.value).toBeGreaterThanOrEqual(0);
    expect(duration.value).toBeLessThan(5);

    expect(app.stats()).toEqual({
      connections: 5,
      topics: 2,
      opened: 7,
      closed: { client: 2, server: 0, slow: 0, error: 0, lifetime: 0, expired: 0, shutdown: 0 },
      rejected: { topic: 1, auth: 1, limit: 0, ip_limit: 1, rate: 0 },
    });

    await app.shutdown();
    expect(await otel.value('ssekit.connections')).toBe(0);
    expect(await otel.value('ssekit.connections.closed', { reason: 'shutdown' })).toBe(5);
    expect(app.stats()).toMatchObject({ connections: 0, topics: 0, closed: { client: 2, shutdown: 5 } });
  });

  test('counts a maxConnections refusal as limit, and slow closes as slow', async () => {
    await start({ maxConnections: 1, maxBufferedBytes: 1024 });
    const stalled = await open('?topic=a');
    expect((await fetchPlain(app.url)).status).toBe(503);
    stalled.socket!.pause();
    const big = 'x'.repeat(64 * 1024);
    await waitFor(() => {
      app.hub.broadcast({ data: big });
      return app.connectionCount() === 0;
    }, 5000, 'the paused client to be closed as slow');
    expect(await otel.value('ssekit.connections.rejected', { reason: 'limit' })).toBe(1);
    expect(await otel.value('ssekit.connections.closed', { reason: 'slow' })).toBe(1);
    expect(app.stats()).toMatchObject({ connections: 0, closed: { slow: 1 }, rejected: { limit: 1 } });
  });
});

test('without the option, a hub gets no observer and an adapter still has stats()', async () => {
  const hub = new Hub();
  const app = await adapters[0]!.start({ hub, heartbeatMs: 0 }, route);
  const client = await connect(app.url);
  await waitFor(() => hub.connectionCount() === 1, 2000, 'the stream');
  hub.broadcast({ data: 'x' });
  await client.next();
  expect((hub as unknown as { observers?: unknown }).observers).toBeUndefined();
  expect(app.stats()).toMatchObject({ connections: 1, opened: 1 });
});

test('two adapters on one hub and one meter count each broadcast once', async () => {
  const otel = memoryMetrics();
  const hub = new Hub();
  const one = await adapters[0]!.start({ hub, heartbeatMs: 0, metrics: otel.meter }, route);
  const two = await adapters[2]!.start({ hub, heartbeatMs: 0, metrics: otel.meter }, route);
  const clients = [await connect(one.url), await connect(two.url)];
  await waitFor(() => hub.connectionCount() === 2, 2000, 'two streams');
  hub.broadcast({ data: 'x' });
  for (const client of clients) await client.next();
  expect(await otel.value('ssekit.events.broadcast')).toBe(1);
  expect(await otel.value('ssekit.events.delivered')).toBe(2);
  expect(await otel.value('ssekit.connections')).toBe(2);
});

test('the metrics option must be a meter', async () => {
  await expect(adapters[0]!.register({ metrics: {} })).rejects.toThrow(/metrics/);
});

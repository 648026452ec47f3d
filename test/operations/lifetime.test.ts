/**
 * Stream lifetimes and credential expiry: a stream ends with a `retry:` hint when its
 * `maxLifetimeMs` (or the `expiresAt` that `authorize` returned) runs out, and a real
 * EventSource client resumes with `Last-Event-ID`: across many ends, every event arrives
 * exactly once. Deadlines share one timer.
 */
import { EventSource } from 'eventsource';
import { Hub, MemoryReplayer } from '@ssekit/core';
import { connect, fetchPlain, track, waitFor } from '@ssekit/testkit';
import { expressAdapter, koaAdapter, type Route } from '@ssekit/testkit/adapters';

const route: Route = async ({ sse, query }) => {
  await sse({ topics: query.getAll('topic') });
};

test('clients ended by maxLifetimeMs resume repeatedly and receive every event exactly once', async () => {
  const replayer = new MemoryReplayer(100_000);
  const hub = new Hub({ replayer });
  const app = await expressAdapter.start({ hub, replayer, heartbeatMs: 0, retryMs: 20, maxLifetimeMs: 300 }, route);
  const received: string[][] = [[], [], []];
  const opens = [0, 0, 0];
  for (let i = 0; i < received.length; i++) {
    const es = new EventSource(`${app.url}?topic=t`);
    track(() => es.close());
    es.onopen = () => opens[i]!++;
    es.onmessage = (message) => received[i]!.push(message.data);
  }
  await waitFor(() => app.connectionCount() === 3, 2000, 'three streams');
  // Broadcast for about 2.5 s, alternating untargeted and topic events, while the streams end and resume.
  let n = 0;
  const until = Date.now() + 2500;
  while (Date.now() < until) {
    if (n % 2 === 0) hub.broadcast({ data: String(n) });
    else hub.broadcastTo('t', { data: String(n) });
    n++;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const expected = Array.from({ length: n }, (_, i) => String(i));
  await waitFor(() => received.every((r) => r.length >= n), 5000, 'every client to catch up');
  for (const r of received) expect(r).toEqual(expected);
  // Each client was ended and came back several times (2.5 s over lifetimes of 270-300 ms).
  for (const count of opens) expect(count).toBeGreaterThanOrEqual(5);
  expect(app.stats().closed.lifetime).toBeGreaterThanOrEqual(12);
  expect(app.stats().closed.client).toBe(0);
}, 20_000);

test('the lifetime ends the stream with the retry hint, within the window and not before', async () => {
  const app = await koaAdapter.start({ heartbeatMs: 0, maxLifetimeMs: 400, maxLifetimeJitterMs: 100 }, route);
  const began = Date.now();
  const client = await connect(app.url);
  await client.waitEnd(2000);
  const lived = Date.now() - began;
  expect(lived).toBeGreaterThanOrEqual(300);
  expect(lived).toBeLessThan(1400);
  expect(client.retries).toEqual([1000]);
  expect(app.stats().closed).toMatchObject({ lifetime: 1, server: 0 });
});

test('authorize returning { expiresAt } ends the stream then, with a retry hint; a past expiry is 403', async () => {
  const app = await expressAdapter.start(
    {
      heartbeatMs: 0,
      retryMs: 50,
      authorize: (_request, topics) => {
        if (topics.includes('old')) return { expiresAt: Date.now() - 1 };
        return topics.includes('date') ? { expiresAt: new Date(Date.now() + 300) } : { expiresAt: Date.now() + 300 };
      },
    },
    route,
  );
  const began = Date.now();
  const clients = [await connect(`${app.url}?topic=n`), await connect(`${app.url}?topic=date`)];
  for (const client of clients) {
    await client.waitEnd(2000);
    expect(client.retries).toEqual([50, 50]);
  }
  expect(Date.now() - began).toBeGreaterThanOrEqual(290);
  expect((await fetchPlain(`${app.url}?topic=old`)).status).toBe(403);
  expect(app.stats()).toMatchObject({ connections: 0, closed: { expired: 2 }, rejected: { auth: 1 } });
});

test('an expiry before the lifetime wins, and a closed stream leaves no deadline behind', async () => {
  const app = await expressAdapter.start({ heartbeatMs: 0, maxLifetimeMs: 60_000, authorize: () => ({ expiresAt: Date.now() + 200 }) }, route);
  const early = await connect(app.url);
  await early.waitEnd(2000);
  expect(app.stats().closed).toMatchObject({ expired: 1, lifetime: 0 });
  const left = await connect(app.url);
  await waitFor(() => app.connectionCount() === 1, 2000, 'the stream');
  left.close();
  await waitFor(() => app.connectionCount() === 0, 2000, 'the stream to close');
  expect(app.stats().closed.client).toBe(1);
});

test('lifetime options are validated', async () => {
  await expect(expressAdapter.register({ maxLifetimeMs: 0 })).rejects.toThrow(/maxLifetimeMs/);
  await expect(expressAdapter.register({ maxLifetimeJitterMs: 10 })).rejects.toThrow(/needs maxLifetimeMs/);
  await expect(expressAdapter.register({ maxLifetimeMs: 100, maxLifetimeJitterMs: 100 })).rejects.toThrow(/less than/);
});

/**
 * An instance in this process: a RedisBroadcaster (hub and replayer) behind `node:http` on a
 * free port, with `GET /?topic=a&topic=b` streams, closed after the test (or by `close()`).
 * Without a server, `options.redis` says where Redis is (a Cluster client, for example).
 */
import { createServer } from 'node:http';
import { createSseHandler, type Connection, type SseHandler } from '@ssekit/core';
import { RedisBroadcaster, type RedisBroadcasterOptions } from '@ssekit/redis';
import { connect, listen, track, waitFor, type SseClient } from '@ssekit/testkit';
import type { RedisServer } from '@ssekit/testkit/redis-server';

export interface App {
  readonly broadcaster: RedisBroadcaster;
  readonly handler: SseHandler;
  readonly url: string;
  /** Connections opened so far (their `replayGap` tells of gaps). */
  readonly opened: Connection[];
  /** Errors reported through `onError`. */
  readonly errors: Error[];
  /** Opens a stream on `topics` and waits until it is registered. */
  connect(topics?: string[], lastEventId?: string): Promise<SseClient>;
  close(): Promise<void>;
}

export async function startApp(redis: RedisServer | undefined, options: Partial<RedisBroadcasterOptions> = {}): Promise<App> {
  const errors: Error[] = [];
  const broadcaster = new RedisBroadcaster({
    redis: { host: '127.0.0.1', port: redis?.port, retryStrategy: () => 100 },
    onError: (error) => errors.push(error),
    ...options,
  });
  const handler = createSseHandler({ hub: broadcaster, replayer: broadcaster, heartbeatMs: 0, resetEvent: true });
  const opened: Connection[] = [];
  const clients: SseClient[] = [];
  const server = createServer((req, res) => {
    const topics = new URL(req.url ?? '/', 'http://x').searchParams.getAll('topic');
    handler.open(req, res, { topics }).then((c) => opened.push(c), () => res.destroy());
  });
  const url = `${(await listen(server)).url}/`;
  await broadcaster.ready();
  let closed: Promise<void> | undefined;
  const app: App = {
    broadcaster,
    handler,
    url,
    opened,
    errors,
    async connect(topics = [], lastEventId) {
      const count = opened.length;
      const query = topics.map((t) => `topic=${encodeURIComponent(t)}`).join('&');
      const client = await connect(`${url}?${query}`, lastEventId === undefined ? {} : { 'last-event-id': lastEventId });
      if (client.status !== 200) throw new Error(`status ${client.status}`);
      clients.push(client);
      await waitFor(() => opened.length > count, 5000, 'the stream to be registered and replayed');
      return client;
    },
    close() {
      closed ??= (async () => {
        for (const client of clients) client.close();
        await handler.close();
        await broadcaster.close();
        await new Promise((resolve) => server.close(resolve));
      })();
      return closed;
    },
  };
  track(() => app.close());
  return app;
}

/** Redis's command counters (`INFO commandstats`): calls per command name. */
export async function commandCalls(redis: RedisServer): Promise<Record<string, number>> {
  const admin = redis.client();
  try {
    const text = (await admin.info('commandstats')) as string;
    const calls: Record<string, number> = {};
    for (const match of text.matchAll(/cmdstat_([a-z|]+):calls=(\d+)/g)) calls[match[1]!] = Number(match[2]);
    return calls;
  } finally {
    admin.disconnect();
  }
}

/** `after - before` for each command that changed. */
export function delta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, n] of Object.entries(after)) {
    const d = n - (before[name] ?? 0);
    if (d !== 0) out[name] = d;
  }
  return out;
}

/** Runs `task(i)` for i in [0, count) with at most `limit` at once. */
export async function inParallel(count: number, limit: number, task: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, count) }, async () => {
    while (next < count) await task(next++);
  }));
}

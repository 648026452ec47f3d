/**
 * `schemas` on `RedisBroadcaster<Events>` against a real redis-server: invalid data rejects with
 * `SseValidationError` before the publish script runs, so Redis holds nothing of it (no key, no
 * stream entry, no script call) and no instance delivers it; valid data is stored and delivered.
 * Standard Schemas from zod and valibot.
 */
import type { Server } from 'node:http';
import express from 'express';
import * as v from 'valibot';
import { z } from 'zod';
import type { StandardSchemaV1 } from '@ssekit/core';
import { expressSse, SseValidationError } from '@ssekit/express';
import { RedisBroadcaster } from '@ssekit/redis';
import { connect, listen, waitFor } from '@ssekit/testkit';
import { RedisServer } from '@ssekit/testkit/redis-server';
import { commandCalls, delta } from './app';

type Events = { tick: { symbol: string; price: number }; message: string };

const libraries: Array<[string, { tick: StandardSchemaV1<Events['tick']>; message: StandardSchemaV1<string> }]> = [
  ['zod', { tick: z.object({ symbol: z.string(), price: z.number() }), message: z.string() }],
  ['valibot', { tick: v.object({ symbol: v.string(), price: v.number() }), message: v.string() }],
];

let redis: RedisServer;

beforeAll(async () => {
  redis = await RedisServer.start();
});

afterAll(async () => {
  await redis?.dispose();
});

/** The keys of `namespace`, with the length of each stream among them. */
async function contents(namespace: string): Promise<Record<string, number | string>> {
  const admin = redis.client();
  try {
    const out: Record<string, number | string> = {};
    for (const key of (await admin.keys(`ssekit:{${namespace}}:*`)).sort()) {
      const type = await admin.type(key);
      out[key] = type === 'stream' ? await admin.xlen(key) : type;
    }
    return out;
  } finally {
    admin.disconnect();
  }
}

/** The script calls (EVAL, EVALSHA, FCALL) in a commandstats delta. */
function scriptCalls(change: Record<string, number>): number {
  return Object.entries(change)
    .filter(([name]) => /^(eval|evalsha|eval_ro|evalsha_ro|fcall)$/.test(name))
    .reduce((sum, [, n]) => sum + n, 0);
}

describe.each(libraries)('RedisBroadcaster schemas from %s', (name, schemas) => {
  test('invalid data rejects with SseValidationError and nothing reaches Redis or a client', async () => {
    const namespace = `validation-${name}`;
    const broadcaster = new RedisBroadcaster<Events>({ redis: { host: '127.0.0.1', port: redis.port }, namespace, schemas, onError: () => {} });
    const sse = expressSse({ hub: broadcaster, replayer: broadcaster, heartbeatMs: 0 });
    const app = express();
    app.use(sse);
    app.get('/events', async (_req, res) => {
      await res.sse<Events>({ topics: ['ticker'] });
    });
    let server: Server | undefined;
    try {
      await broadcaster.ready();
      const listening = await listen(app.listen(0, '127.0.0.1'));
      server = listening.server;
      const client = await connect(`${listening.url}/events`);
      expect(client.status).toBe(200);
      await waitFor(() => broadcaster.topicCount('ticker') === 1, 5000, 'the stream to subscribe');

      const before = await contents(namespace);
      const callsBefore = await commandCalls(redis);
      const wrongTick = { event: 'tick', data: { symbol: 'A', price: 'high' } } as unknown as { event: 'tick'; data: Events['tick'] };
      const error = await broadcaster.broadcastTo('ticker', wrongTick).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SseValidationError);
      expect((error as SseValidationError).code).toBe('validation');
      expect((error as SseValidationError).event).toBe('tick');
      expect((error as SseValidationError).issues[0]!.path?.map((p) => (typeof p === 'object' ? p.key : p))).toEqual(['price']);
      await expect(broadcaster.broadcast({ data: 42 as unknown as string })).rejects.toBeInstanceOf(SseValidationError);
      await expect(sse.hub.broadcastTo('ticker', { event: 'tick', data: null as unknown as Events['tick'] })).rejects.toBeInstanceOf(SseValidationError);
      // `store` (the replayer's side) publishes the same way, so it is checked too.
      await expect(broadcaster.store({ event: 'tick', data: { symbol: 'A' } }, 'ticker')).rejects.toBeInstanceOf(SseValidationError);

      expect(scriptCalls(delta(callsBefore, await commandCalls(redis)))).toBe(0);
      expect(await contents(namespace)).toEqual(before);
      expect(Object.values(before).filter((n) => typeof n === 'number' && n > 0)).toEqual([]);
      expect(broadcaster.stats().published).toBe(0);

      const stored = await broadcaster.broadcastTo('ticker', { event: 'tick', data: { symbol: 'A', price: 1 } });
      expect((await contents(namespace))[broadcaster.streamKey('ticker')]).toBe(1);
      const [event] = await client.take(1, 5000);
      expect(event).toMatchObject({ event: 'tick', data: '{"symbol":"A","price":1}', id: stored.id });
      // Delivery is in id order: a rejected event would have come first.
      expect(client.events).toHaveLength(1);
      client.close();
    } finally {
      await sse.close(server);
      await broadcaster.close();
    }
  });
});

test('schemas must be Standard Schemas', () => {
  const redisOptions = { host: '127.0.0.1', port: 1, lazyConnect: true };
  expect(() => new RedisBroadcaster({ redis: redisOptions, schemas: { tick: { parse: () => 1 } as never } })).toThrow(/schemas\.tick/);
  expect(() => new RedisBroadcaster({ redis: redisOptions, schemas: 'zod' as never })).toThrow(/schemas/);
});

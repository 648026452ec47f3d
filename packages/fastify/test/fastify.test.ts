/** What only Fastify has: plugin metadata, decorators, and `setErrorHandler` seeing a refusal. */
import Fastify from 'fastify';
import type { AddressInfo } from 'node:net';
import { Hub, SseHttpError, SseOptionsError } from '@ssekit/core';
import fastifySseDefault, { fastifySse, typedSse } from '@ssekit/fastify';
import { connect, fetchPlain } from '@ssekit/testkit';

test('is a fastify-plugin named @ssekit/fastify for Fastify 5, default and named', () => {
  const meta = (fastifySse as unknown as Record<symbol, unknown>)[Symbol.for('plugin-meta')];
  expect(meta).toMatchObject({ name: '@ssekit/fastify', fastify: '5.x' });
  expect((fastifySse as unknown as Record<symbol, unknown>)[Symbol.for('skip-override')]).toBe(true);
  expect(fastifySseDefault).toBe(fastifySse);
});

test('decorates the hub passed in and a stream count, visible outside the plugin', async () => {
  const hub = new Hub();
  const app = Fastify();
  // Fastify's own registration options are not taken for unknown ssekit options.
  await app.register(fastifySse, { hub, prefix: '/sse', logLevel: 'warn' } as never);
  expect(app.sseHub).toBe(hub);
  expect(app.sseConnectionCount()).toBe(0);
  await app.close();
});

test('a refused stream reaches setErrorHandler, and an accepted one still streams', async () => {
  const app = Fastify();
  await app.register(fastifySse, { authorize: (request) => request.headers['x-token'] === 'ok' });
  const seen: unknown[] = [];
  app.setErrorHandler((error, _request, reply) => {
    seen.push(error);
    const status = error instanceof SseHttpError ? error.status : 500;
    return reply.code(status).send({ refused: true });
  });
  app.get('/events', async (_request, reply) => {
    const conn = await reply.sse();
    await conn.send({ data: 'welcome' });
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/events`;
  const refused = await fetchPlain(url);
  expect(refused.status).toBe(403);
  expect(JSON.parse(refused.body)).toEqual({ refused: true });
  expect(seen[0]).toBeInstanceOf(SseHttpError);
  const client = await connect(url, { 'x-token': 'ok' });
  expect((await client.next()).data).toBe('welcome');
  await app.close();
  await client.waitEnd();
});

test('typedSse reads the plugin of an app, and refuses an app without it', async () => {
  const bare = Fastify();
  expect(() => typedSse(bare)).toThrow(SseOptionsError);
  await bare.close();
  const app = Fastify();
  await app.register(fastifySse, { heartbeatMs: 0 });
  const sse = typedSse<{ tick: number }>(app);
  expect(sse.hub).toBe(app.sseHub);
  expect(sse.connectionCount()).toBe(0);
  await app.close();
});

/**
 * A route that broadcasts while Redis is down, and does not catch: the framework's own default
 * error handler answers 503 with `Retry-After` (a `RedisUnavailableError` carries `status`,
 * `statusCode` and `headers`), on Express, Fastify and Koa alike. And `ready()` gives up after
 * its timeout.
 */
import { request as httpRequest, createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import Koa from 'koa';
import { SseUnavailableError } from '@ssekit/core';
import { RedisBroadcaster, RedisUnavailableError } from '@ssekit/redis';
import { listen as listenOn } from '@ssekit/testkit';
import { RedisServer } from '@ssekit/testkit/redis-server';

let redis: RedisServer;
let broadcaster: RedisBroadcaster;

beforeAll(async () => {
  redis = await RedisServer.start();
  broadcaster = new RedisBroadcaster({ redis: { host: '127.0.0.1', port: redis.port, retryStrategy: () => 1000 }, namespace: 'status', onError: () => {} });
  await broadcaster.ready();
  await redis.kill();
});

afterAll(async () => {
  await broadcaster?.close();
});

/** The route every framework runs: publish, without a try/catch. */
const publish = async (): Promise<void> => {
  await broadcaster.broadcast({ data: 'news' });
};

function post(port: number): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/publish' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Listens on port 0; the kit's cleanup registry closes the server. */
async function listen(server: Server): Promise<number> {
  return (await listenOn(server)).port;
}

test('the error itself: 503, Retry-After, not exposed, and an SseUnavailableError', async () => {
  const error = await broadcaster.broadcast({ data: 'x' }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(RedisUnavailableError);
  expect(error).toBeInstanceOf(SseUnavailableError);
  expect(error).toMatchObject({ code: 'unavailable', stored: false, status: 503, statusCode: 503, expose: false, headers: { 'Retry-After': '5' } });
});

test('Express answers 503 with Retry-After', async () => {
  const app = express();
  app.post('/publish', publish);
  const res = await post(await listen(createServer(app)));
  expect(res.status).toBe(503);
  expect(res.headers['retry-after']).toBe('5');
});

test('Fastify answers 503 with Retry-After', async () => {
  const app: FastifyInstance = Fastify();
  app.post('/publish', publish);
  try {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const res = await post((app.server.address() as AddressInfo).port);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(JSON.parse(res.body)).toMatchObject({ statusCode: 503, code: 'unavailable' });
  } finally {
    await app.close();
  }
});

test('Koa answers 503 with Retry-After, without showing the message', async () => {
  const app = new Koa();
  app.silent = true;
  app.use(async (ctx) => {
    if (ctx.path === '/publish') await publish();
  });
  const res = await post(await listen(createServer(app.callback())));
  expect(res.status).toBe(503);
  expect(res.headers['retry-after']).toBe('5');
  expect(res.body).toBe('Service Unavailable');
});

test('ready() is bounded: it rejects with RedisUnavailableError once its timeout passes', async () => {
  const nowhere = new RedisBroadcaster({ redis: { host: '127.0.0.1', port: redis.port, retryStrategy: () => 50 }, namespace: 'never', timeoutMs: 5000, onError: () => {} });
  try {
    const started = Date.now();
    await expect(nowhere.ready({ timeoutMs: 150 })).rejects.toBeInstanceOf(RedisUnavailableError);
    expect(Date.now() - started).toBeLessThan(4000);
    await expect(nowhere.ready({ timeoutMs: 0 })).rejects.toMatchObject({ code: 'options', option: 'timeoutMs' });
    await expect(nowhere.ready({ timeout: 10 } as never)).rejects.toMatchObject({ code: 'options', option: 'timeout' });
  } finally {
    await nowhere.close();
  }
});

/**
 * Cross-origin event streams with credentials (`new EventSource(url, { withCredentials: true })`),
 * with each framework's own CORS plugin in front of the adapter: the stream response carries
 * `Access-Control-Allow-Origin: <the page's origin>` and `Access-Control-Allow-Credentials:
 * true` (a browser refuses `*` with credentials), the session cookie reaches `authorize`, and
 * events flow. A preflight (sent by polyfills that set `Last-Event-ID` themselves) is answered.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import cors from 'cors';
import Fastify from 'fastify';
import fastifyCors from '@fastify/cors';
import Koa from 'koa';
import koaCors from '@koa/cors';
import type { Authorize, Broadcaster } from '@ssekit/core';
import { expressSse } from '@ssekit/express';
import { fastifySse } from '@ssekit/fastify';
import { koaSse } from '@ssekit/koa';
import { closeAll, listen, onCleanup, openStream } from './support';

afterEach(closeAll);

const PAGE = 'https://app.example';
const ALLOWED = [PAGE];

/** Same-site session check: the browser sends the cookie because of `withCredentials`. */
const authorize: Authorize<unknown> = (request) => {
  const cookie = (request as { headers: Record<string, string | undefined> }).headers['cookie'] ?? '';
  return /(?:^|;\s*)sid=s3cr3t(?:;|$)/.test(cookie);
};

interface App {
  port: number;
  hub: Broadcaster;
}

const apps: Record<string, () => Promise<App>> = {
  async express() {
    const app = express();
    const sse = expressSse({ authorize, heartbeatMs: 0 });
    app.use(cors({ origin: ALLOWED, credentials: true }));
    app.use(sse);
    app.get('/events', async (_req, res) => {
      await res.sse({ topics: ['news'] });
    });
    const server = http.createServer(app);
    const port = await listen(server);
    onCleanup(() => sse.close());
    return { port, hub: sse.hub };
  },
  async fastify() {
    const app = Fastify();
    await app.register(fastifyCors, { origin: ALLOWED, credentials: true });
    await app.register(fastifySse, { authorize, heartbeatMs: 0 });
    app.get('/events', async (_request, reply) => {
      await reply.sse({ topics: ['news'] });
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    onCleanup(async () => {
      app.server.closeAllConnections();
      await app.close();
    });
    return { port: (app.server.address() as AddressInfo).port, hub: app.sseHub };
  },
  async koa() {
    const app = new Koa();
    const sse = koaSse({ authorize, heartbeatMs: 0 });
    app.use(koaCors({ origin: (ctx: Koa.Context) => (ALLOWED.includes(ctx.get('Origin')) ? ctx.get('Origin') : ''), credentials: true }));
    app.use(sse);
    app.use(async (ctx) => {
      if (ctx.path === '/events') await ctx.sse({ topics: ['news'] });
    });
    const server = http.createServer(app.callback());
    const port = await listen(server);
    onCleanup(() => sse.close());
    return { port, hub: sse.hub };
  },
};

/** Sends a preflight and returns the response headers. */
function preflight(port: number, origin: string): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      path: '/events',
      method: 'OPTIONS',
      agent: false,
      headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'last-event-id' },
    });
    onCleanup(() => req.destroy());
    req.on('response', (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
    });
    req.on('error', reject);
    req.end();
  });
}

describe.each(Object.entries(apps))('%s with its CORS plugin', (_name, start) => {
  test('a credentialed cross-origin stream gets the origin, credentials: true, and events', async () => {
    const app = await start();
    const client = await openStream(app.port, '/events', { origin: PAGE, cookie: 'sid=s3cr3t' });
    expect(client.status).toBe(200);
    expect(client.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(client.headers['access-control-allow-origin']).toBe(PAGE);
    expect(client.headers['access-control-allow-credentials']).toBe('true');
    expect(String(client.headers['vary'] ?? '')).toMatch(/origin/i);
    await app.hub.broadcastTo('news', { data: 'cross-origin hello' });
    const [event] = await client.waitForEvents(1);
    expect(event!.data).toBe('cross-origin hello');
  });

  test('without the session cookie: 403, still with CORS headers so the page can see it', async () => {
    const app = await start();
    const client = await openStream(app.port, '/events', { origin: PAGE });
    expect(client.status).toBe(403);
    expect(client.headers['access-control-allow-origin']).toBe(PAGE);
    expect(await app.hub.connectionCount()).toBe(0);
  });

  test('another origin is not allowed to read the stream', async () => {
    const app = await start();
    const client = await openStream(app.port, '/events', { origin: 'https://evil.example', cookie: 'sid=s3cr3t' });
    expect(client.headers['access-control-allow-origin']).not.toBe('https://evil.example');
    expect(client.headers['access-control-allow-origin']).not.toBe('*');
  });

  test('a preflight for Last-Event-ID is allowed with credentials', async () => {
    const app = await start();
    const response = await preflight(app.port, PAGE);
    expect(response.status).toBeGreaterThanOrEqual(200);
    expect(response.status).toBeLessThan(300);
    expect(response.headers['access-control-allow-origin']).toBe(PAGE);
    expect(response.headers['access-control-allow-credentials']).toBe('true');
    expect(String(response.headers['access-control-allow-headers'] ?? '').toLowerCase()).toContain('last-event-id');
  });
});

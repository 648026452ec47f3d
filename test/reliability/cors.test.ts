/**
 * Cross-origin event streams with credentials (`new EventSource(url, { withCredentials: true })`),
 * with each framework's own CORS plugin in front of the adapter: the stream response carries
 * `Access-Control-Allow-Origin: <the page's origin>` and `Access-Control-Allow-Credentials:
 * true` (a browser refuses `*` with credentials), the session cookie reaches `authorize`, and
 * events flow. A preflight (sent by polyfills that set `Last-Event-ID` themselves) is answered.
 */
import * as http from 'node:http';
import type { Express } from 'express';
import cors from 'cors';
import type { FastifyInstance } from 'fastify';
import fastifyCors from '@fastify/cors';
import type Koa from 'koa';
import koaCors from '@koa/cors';
import type { Authorize, Broadcaster } from '@ssekit/core';
import { buildApp, type AdapterName } from '@ssekit/harness/apps';
import { connect, track } from '@ssekit/testkit';
import { modulesOf } from '@ssekit/testkit/adapters';

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

/** Each framework's own CORS plugin, allowing the page's origin with credentials. */
const corsFor: Record<Exclude<AdapterName, 'node'>, (app: unknown) => unknown> = {
  express: (app) => (app as Express).use(cors({ origin: ALLOWED, credentials: true })),
  fastify: (app) => (app as FastifyInstance).register(fastifyCors, { origin: ALLOWED, credentials: true }),
  koa: (app) => (app as Koa).use(koaCors({ origin: (ctx: Koa.Context) => (ALLOWED.includes(ctx.get('Origin')) ? ctx.get('Origin') : ''), credentials: true })),
};

const apps = Object.fromEntries(
  (['express', 'fastify', 'koa'] as const).map((name) => [
    name,
    async (): Promise<App> => {
      const app = await buildApp(name, modulesOf(name), {
        sse: { authorize, heartbeatMs: 0 },
        prepare: corsFor[name],
        route: (open) => open({ topics: ['news'] }),
      });
      const port = await app.listen();
      track(async () => {
        app.server.closeAllConnections();
        await app.close();
      });
      return { port, hub: app.hub };
    },
  ]),
);

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
    track(() => req.destroy());
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
    const client = await connect(`http://127.0.0.1:${app.port}/events`, { origin: PAGE, cookie: 'sid=s3cr3t' });
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
    const client = await connect(`http://127.0.0.1:${app.port}/events`, { origin: PAGE });
    expect(client.status).toBe(403);
    expect(client.headers['access-control-allow-origin']).toBe(PAGE);
    expect(await app.hub.connectionCount()).toBe(0);
  });

  test('another origin is not allowed to read the stream', async () => {
    const app = await start();
    const client = await connect(`http://127.0.0.1:${app.port}/events`, { origin: 'https://evil.example', cookie: 'sid=s3cr3t' });
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

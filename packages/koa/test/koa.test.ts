/** What only Koa has: `ctx.sseHub`, and upstream middleware seeing a refused stream. */
import http from 'node:http';
import Koa from 'koa';
import { SseHttpError, type Broadcaster } from '@ssekit/core';
import { koaSse } from '@ssekit/koa';
import { connect, fetchPlain, listen } from '@ssekit/testkit';

test('sets ctx.sseHub, and upstream middleware can answer a refusal its own way', async () => {
  const app = new Koa();
  const sse = koaSse({ authorize: (ctx) => ctx.get('x-token') === 'ok' });
  const hubs: Broadcaster[] = [];
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      if (!(error instanceof SseHttpError)) throw error;
      ctx.status = error.status;
      ctx.body = { refused: error.message };
    }
  });
  app.use(sse);
  app.use(async (ctx) => {
    hubs.push(ctx.sseHub);
    const conn = await ctx.sse();
    await conn.send({ data: 'welcome' });
  });
  const { server, url: base } = await listen(http.createServer(app.callback()));
  const url = `${base}/`;

  const refused = await fetchPlain(url);
  expect(refused.status).toBe(403);
  expect(JSON.parse(refused.body)).toEqual({ refused: 'Forbidden' });

  const client = await connect(url, { 'x-token': 'ok' });
  expect((await client.next()).data).toBe('welcome');
  expect(hubs).toEqual([sse.hub, sse.hub]);
  await sse.close(server);
  await client.waitEnd();
});

test('ctx.sse() lets client disconnects pass ctx.onerror, wrapping it once however often it is called', async () => {
  const app = new Koa();
  app.silent = true;
  const sse = koaSse({ heartbeatMs: 0 });
  const wrapped: boolean[] = [];
  app.use(sse);
  app.use(async (ctx) => {
    const original = ctx.onerror;
    // A refused call (bad topic) still installs the guard, before anything is written.
    await ctx.sse({ topics: [''] }).catch(() => undefined);
    const afterFirst = ctx.onerror;
    const conn = await ctx.sse();
    wrapped.push(afterFirst !== original, ctx.onerror === afterFirst);
    await conn.send({ data: 'hi' });
  });
  const { server, url } = await listen(http.createServer(app.callback()));
  const client = await connect(`${url}/`);
  expect((await client.next()).data).toBe('hi');
  expect(wrapped).toEqual([true, true]);
  await sse.close(server);
  await client.waitEnd();
});

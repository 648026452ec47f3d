/** What only Express has: `app.locals`, and error middleware seeing a refused stream. */
import http from 'node:http';
import express, { type ErrorRequestHandler } from 'express';
import { SseHttpError } from '@ssekit/core';
import { expressSse } from '@ssekit/express';
import { connect, fetchPlain, listen, type TestServer } from '@ssekit/testkit';

const serve = (app: express.Express): Promise<TestServer> => listen(http.createServer(app));

test('sets app.locals.sseHub no later than the first request passing the middleware', async () => {
  const app = express();
  const sse = expressSse();
  app.use(sse);
  app.get('/events', async (_req, res) => {
    await res.sse();
  });
  expect(app.locals.sseHub).toBeUndefined();
  const { url, server } = await serve(app);
  const client = await connect(`${url}/events`);
  expect(app.locals.sseHub).toBe(sse.hub);
  client.close();
  await sse.close(server);
});

test('a refused stream reaches error middleware as an SseHttpError', async () => {
  const app = express();
  const sse = expressSse({ authorize: () => false });
  app.use(sse);
  app.get('/events', async (_req, res) => {
    await res.sse({ topics: ['private'] });
  });
  const seen: unknown[] = [];
  const onError: ErrorRequestHandler = (err: SseHttpError, _req, res, _next) => {
    seen.push(err);
    res.status(err.status).set(err.headers).json({ code: err.code, message: err.message });
  };
  app.use(onError);
  const { url, server } = await serve(app);
  const res = await fetchPlain(`${url}/events`);
  expect(res.status).toBe(403);
  expect(JSON.parse(res.body)).toEqual({ code: 'http', message: 'Forbidden' });
  expect(seen[0]).toBeInstanceOf(SseHttpError);
  await sse.close(server);
});

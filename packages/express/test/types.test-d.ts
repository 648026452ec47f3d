/**
 * Type test, compiled by `npm run typecheck` and never run: a strict user file must be able to
 * use everything the middleware adds without casts, and misuse must not compile.
 */
import express from 'express';
import expressSseDefault, { expressSse, type Broadcaster, type Connection, type ExpressSseMiddleware } from '@ssekit/express';

const app = express();
const sse: ExpressSseMiddleware = expressSse({
  heartbeatMs: 15_000,
  authorize: (req, topics) => req.get('authorization') !== undefined && topics.length < 10,
});
app.use(sse);
app.use(expressSseDefault());

const hub: Broadcaster = sse.hub;
void hub.broadcast({ data: { hello: 'world' } });
const shutdown: Promise<void> = sse.close(app.listen(0));
void shutdown;

app.get('/events', async (req, res) => {
  const conn: Connection = await res.sse({ topics: [String(req.query['room'])], replay: false });
  const accepted: boolean = await conn.send({ event: 'ready', data: 'x' });
  void accepted;
  const fromLocals: Broadcaster | undefined = req.app.locals.sseHub;
  void fromLocals?.broadcastTo('room', { data: 1 });
  // @ts-expect-error the hub is only set once a request has passed the middleware
  void req.app.locals.sseHub.broadcast({ data: 1 });
  // @ts-expect-error topics is an array of strings
  await res.sse({ topics: 'room' });
  // @ts-expect-error unknown option
  await res.sse({ topic: ['room'] });
});

// @ts-expect-error heartbeatMs is a number
expressSse({ heartbeatMs: '15s' });
// @ts-expect-error hub must be a Broadcaster
expressSse({ hub: {} });
// @ts-expect-error authorize answers a boolean
expressSse({ authorize: () => 'yes' });
// @ts-expect-error the hub is read-only
sse.hub = hub;

// Without a hub option the middleware's hub is the in-memory Hub, hooks and all.
const memory = expressSse();
memory.hub.onBroadcast = (event) => ({ ...event, data: 'redacted' });
const delivered = memory.hub.broadcast({ data: 1 });
const deliveredId: string | undefined = delivered?.id;
void deliveredId;
// A hub passed in keeps its own type.
declare const custom: import('@ssekit/core').Broadcaster & { custom(): void };
expressSse({ hub: custom }).hub.custom();

/**
 * Type test, compiled by `npm run typecheck` and never run: a strict user file must be able to
 * use everything the middleware adds without casts, and misuse must not compile.
 */
import Koa from 'koa';
import koaSseDefault, { koaSse, type Broadcaster, type Connection, type KoaSseMiddleware } from '@ssekit/koa';

const app = new Koa();
const sse: KoaSseMiddleware = koaSse({
  heartbeatMs: 15_000,
  authorize: (ctx, topics) => ctx.get('authorization') !== '' && topics.length < 10,
});
app.use(sse);
app.use(koaSseDefault());

const hub: Broadcaster = sse.hub;
void hub.broadcast({ data: { hello: 'world' } });
void sse.close(app.listen(0));

app.use(async (ctx) => {
  const conn: Connection = await ctx.sse({ topics: [String(ctx.query['room'])] });
  await conn.send({ event: 'ready', data: 'x' });
  const fromCtx: Broadcaster = ctx.sseHub;
  void fromCtx.broadcastTo('room', { data: 1 });
  // @ts-expect-error topics is an array of strings
  await ctx.sse({ topics: 'room' });
  // @ts-expect-error unknown option
  await ctx.sse({ topic: ['room'] });
  // @ts-expect-error the hub is a Broadcaster, not a string
  const wrong: string = ctx.sseHub;
  void wrong;
});

// A context type of the app's own still gets the additions.
const typed = new Koa<{ user: string }, { requestId: string }>();
typed.use(koaSse());
typed.use(async (ctx) => {
  const conn: Connection = await ctx.sse({ topics: [ctx.state.user, ctx.requestId] });
  void conn;
});

// @ts-expect-error heartbeatMs is a number
koaSse({ heartbeatMs: '15s' });
// @ts-expect-error hub must be a Broadcaster
koaSse({ hub: {} });

// Without a hub option the middleware's hub is the in-memory Hub, hooks and all.
const memoryKoa = koaSse();
memoryKoa.hub.onBroadcastTo = (_topic, event) => event;
const topicCount: number = memoryKoa.hub.topicCount('news');
void topicCount;

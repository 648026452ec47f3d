/** Type test, compiled by `npm run typecheck` and never run: `koaSse<Events>()`. */
import Koa from 'koa';
import { koaSse, type Connection, type Hub } from '@ssekit/koa';

type Events = { tick: { symbol: string; price: number }; message: string };

const app = new Koa();
const sse = koaSse<Events>();
app.use(sse);
const hub: Hub<Events> = sse.hub;
hub.broadcast({ event: 'tick', data: { symbol: 'A', price: 1 } });
// @ts-expect-error wrong payload
sse.hub.broadcast({ event: 'tick', data: { symbol: 'A', price: '1' } });
// @ts-expect-error unknown event name
sse.hub.broadcastTo('ticker', { event: 'tock', data: 1 });
// @ts-expect-error missing data
sse.hub.broadcast({ event: 'tick' });

app.use(async (ctx) => {
  const conn: Connection<Events> = await ctx.sse<Events>({ topics: ['ticker'] });
  await conn.send({ event: 'tick', data: { symbol: 'A', price: 2 } });
  // @ts-expect-error wrong payload on the connection
  await conn.send({ data: 3 });
  const plain = await ctx.sse();
  await plain.send({ event: 'anything', data: [1, 2] });
});

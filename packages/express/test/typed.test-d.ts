/** Type test, compiled by `npm run typecheck` and never run: `expressSse<Events>()`. */
import express from 'express';
import { expressSse, type Broadcaster, type Connection, type Hub } from '@ssekit/express';

type Events = { tick: { symbol: string; price: number }; message: string };

const app = express();
const sse = expressSse<Events>({ heartbeatMs: 1000 });
app.use(sse);
const hub: Hub<Events> = sse.hub;
hub.broadcast({ event: 'tick', data: { symbol: 'A', price: 1 } });
sse.hub.broadcastTo('ticker', { data: 'hello' });
// @ts-expect-error wrong payload
sse.hub.broadcast({ event: 'tick', data: { symbol: 'A', price: '1' } });
// @ts-expect-error unknown event name
sse.hub.broadcastTo('ticker', { event: 'tock', data: 1 });
// @ts-expect-error missing data
sse.hub.broadcast({ event: 'tick' });

app.get('/events', async (_req, res) => {
  const conn: Connection<Events> = await res.sse<Events>({ topics: ['ticker'] });
  await conn.send({ event: 'tick', data: { symbol: 'A', price: 2 } });
  // @ts-expect-error wrong payload on the connection
  await conn.send({ event: 'tick', data: { symbol: 'A' } });
  // @ts-expect-error unknown name on the connection
  await conn.pipe([{ event: 'tock', data: 1 }]);
  await conn.pipe(['text', { event: 'tick', data: { symbol: 'B', price: 1 } }]);
  sse.hub.subscribe(conn, 'more');
  // Untyped: any event, as before.
  const plain = await res.sse();
  await plain.send({ event: 'anything', data: [1, 2] });
});

// A hub of one's own is named with the map.
declare const own: Broadcaster<Events>;
const withHub = expressSse<Events, Broadcaster<Events>>({ hub: own });
// @ts-expect-error the own hub is typed too
void withHub.hub.broadcast({ event: 'tick', data: 1 });
// Without a map, the hub of the options is inferred and untyped.
declare const untypedHub: Broadcaster;
void expressSse({ hub: untypedHub }).hub.broadcast({ event: 'x', data: 1 });

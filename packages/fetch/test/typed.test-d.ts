/** Type test, compiled by `npm run typecheck` and never run: `fetchSse<Events>()`. */
import { fetchSse, type Broadcaster, type Connection, type FetchSse, type Hub, type OnOpen } from '@ssekit/fetch';
import { z } from 'zod';

type Events = { tick: { symbol: string; price: number }; message: string };

const sse = fetchSse<Events>({ heartbeatMs: 1000 });
const hub: Hub<Events> = sse.hub;
hub.broadcast({ event: 'tick', data: { symbol: 'A', price: 1 } });
sse.hub.broadcastTo('ticker', { data: 'hello' });
sse.hub.broadcast({ retry: 1000 });
// @ts-expect-error wrong payload
sse.hub.broadcast({ event: 'tick', data: { symbol: 'A', price: '1' } });
// @ts-expect-error unknown event name
sse.hub.broadcastTo('ticker', { event: 'tock', data: 1 });
// @ts-expect-error missing data
sse.hub.broadcast({ event: 'tick' });
// @ts-expect-error missing field of the data
sse.hub.broadcastTo('ticker', { event: 'tick', data: { symbol: 'A' } });
// @ts-expect-error the unnamed event carries the message data
sse.hub.broadcast({ data: 1 });

// The connection given to onOpen is typed by the map.
export const route = (request: Request): Promise<Response> =>
  sse.response(request, { topics: ['ticker'] }, async (conn) => {
    const typed: Connection<Events> = conn;
    await typed.send({ event: 'tick', data: { symbol: 'A', price: 2 } });
    await conn.send({ data: 'hello' });
    // @ts-expect-error wrong payload on the connection
    await conn.send({ event: 'tick', data: { symbol: 'A', price: '2' } });
    // @ts-expect-error missing field on the connection
    await conn.send({ event: 'tick', data: { symbol: 'A' } });
    // @ts-expect-error unknown name on the connection
    await conn.send({ event: 'tock', data: 1 });
    await conn.pipe(['text', { event: 'tick', data: { symbol: 'B', price: 1 } }]);
    // @ts-expect-error unknown name in pipe
    await conn.pipe([{ event: 'tock', data: 1 }]);
    // @ts-expect-error wrong payload in pipe
    await conn.pipe([{ event: 'tick', data: 3 }]);
    // A typed connection still goes wherever an untyped one does.
    sse.hub.subscribe(conn, 'more');
  });
const onOpen: OnOpen<Events> = (conn) => conn.send({ event: 'tick', data: { symbol: 'C', price: 3 } });
void onOpen;
// @ts-expect-error an onOpen of another map does not fit
const wrong: OnOpen<Events> = (conn: Connection<{ other: number }>) => conn.send({ event: 'other', data: 1 });
void wrong;

// The returned object's type names the hub and the map.
const named: FetchSse<Hub<Events>, Events> = sse;
void named;

// Schemas are checked against the map's data types.
fetchSse<Events>({ schemas: { tick: z.object({ symbol: z.string(), price: z.number() }), message: z.string() } });
// @ts-expect-error the schema of tick must produce tick's data
fetchSse<Events>({ schemas: { tick: z.number() } });
// @ts-expect-error no schema for a name outside the map
fetchSse<Events>({ schemas: { tock: z.number() } });

// A hub of one's own is named with the map.
declare const own: Broadcaster<Events>;
const withHub = fetchSse<Events, Broadcaster<Events>>({ hub: own });
// @ts-expect-error the own hub is typed too
void withHub.hub.broadcast({ event: 'tick', data: 1 });

// Untyped use is unchanged: any event, on the hub and the connection.
const plain = fetchSse();
plain.hub.broadcast({ event: 'anything', data: [1, 2] });
export const plainRoute = (request: Request): Promise<Response> =>
  plain.response(request, {}, async (conn) => {
    await conn.send({ event: 'anything', data: { any: 'thing' } });
    await conn.pipe(['text', { event: 'x', data: 1 }]);
  });
const untypedNamed: FetchSse<Hub> = plain;
void untypedNamed;
// Without a map, the hub of the options is inferred and untyped.
declare const untypedHub: Broadcaster;
void fetchSse({ hub: untypedHub }).hub.broadcast({ event: 'x', data: 1 });

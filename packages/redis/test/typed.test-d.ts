/**
 * Type test, compiled by `npm run typecheck` and never run: `RedisBroadcaster<Events>` types
 * its broadcasts, its schemas and the hub of the adapters it is given to.
 */
import { expressSse, type Broadcaster } from '@ssekit/express';
import { fetchSse } from '@ssekit/fetch';
import { koaSse } from '@ssekit/koa';
import { RedisBroadcaster, type RedisBroadcasterOptions } from '@ssekit/redis';
import { z } from 'zod';

type Events = { tick: { symbol: string; price: number }; message: string };

const redis = { host: '127.0.0.1', port: 6380 };
const broadcaster = new RedisBroadcaster<Events>({ redis, schemas: { tick: z.object({ symbol: z.string(), price: z.number() }) } });
void broadcaster.broadcast({ event: 'tick', data: { symbol: 'A', price: 1 } });
void broadcaster.broadcastTo('ticker', { data: 'hello' });
void broadcaster.broadcast({ id: 'checkpoint' });
// @ts-expect-error wrong payload
void broadcaster.broadcast({ event: 'tick', data: { symbol: 'A', price: '1' } });
// @ts-expect-error unknown event name
void broadcaster.broadcastTo('ticker', { event: 'tock', data: 1 });
// @ts-expect-error missing data
void broadcaster.broadcast({ event: 'tick' });
// @ts-expect-error missing field of the data
void broadcaster.broadcastTo('ticker', { event: 'tick', data: { symbol: 'A' } });
// @ts-expect-error the unnamed event carries the message data
void broadcaster.broadcast({ data: 1 });

// Schemas are checked against the map's data types.
// @ts-expect-error the schema of tick must produce tick's data
void new RedisBroadcaster<Events>({ redis, schemas: { tick: z.number() } });
// @ts-expect-error no schema for a name outside the map
void new RedisBroadcaster<Events>({ redis, schemas: { tock: z.number() } });
const options: RedisBroadcasterOptions<Events> = { redis, schemas: { message: z.string() } };
void options;

// Adapters given it as hub (and replayer) keep its map.
const viaExpress = expressSse({ hub: broadcaster, replayer: broadcaster });
void viaExpress.hub.broadcast({ event: 'tick', data: { symbol: 'A', price: 1 } });
// @ts-expect-error Express's hub is the typed broadcaster
void viaExpress.hub.broadcast({ event: 'tick', data: 1 });
const named = expressSse<Events, RedisBroadcaster<Events>>({ hub: broadcaster, replayer: broadcaster });
// @ts-expect-error named, too
void named.hub.broadcastTo('ticker', { event: 'tock', data: 1 });
const viaKoa = koaSse({ hub: broadcaster });
// @ts-expect-error Koa's hub is the typed broadcaster
void viaKoa.hub.broadcastTo('ticker', { event: 'tick', data: { symbol: 'A' } });
const viaFetch = fetchSse<Events, RedisBroadcaster<Events>>({ hub: broadcaster, replayer: broadcaster });
void viaFetch.hub.broadcast({ event: 'tick', data: { symbol: 'A', price: 2 } });
// @ts-expect-error fetchSse's hub is the typed broadcaster
void viaFetch.hub.broadcast({ event: 'tick', data: '2' });
// A typed broadcaster is still a Broadcaster, and one of its map.
const asBroadcaster: Broadcaster = broadcaster;
const asTyped: Broadcaster<Events> = broadcaster;
void asBroadcaster;
void asTyped;

// Untyped use is unchanged: any event.
const plain = new RedisBroadcaster({ redis });
void plain.broadcast({ event: 'anything', data: { any: 'thing' } });
void plain.store({ event: 'x', data: 1 }, 'topic');
void expressSse({ hub: plain }).hub.broadcastTo('t', { event: 'y', data: [1] });

/**
 * Type test, compiled by `npm run typecheck` and never run: an event map types the hub and the
 * connections; untyped use takes any event.
 */
import { Hub, type Broadcaster, type Connection, type SseSchemas, type StandardSchemaV1 } from '@ssekit/core';

type Events = { tick: { symbol: string; price: number }; message: string };

const hub = new Hub<Events>();
hub.broadcast({ event: 'tick', data: { symbol: 'A', price: 1 } });
hub.broadcast({ event: 'tick', data: { symbol: 'A', price: 1 }, id: '7', retry: 1000 });
hub.broadcast({ data: 'plain' });
hub.broadcast({ event: 'message', data: 'plain' });
hub.broadcastTo('ticker', { event: 'tick', data: { symbol: 'A', price: 1 } });
// @ts-expect-error wrong payload
hub.broadcast({ event: 'tick', data: { symbol: 'A', price: '1' } });
// @ts-expect-error unknown event name
hub.broadcast({ event: 'tock', data: { symbol: 'A', price: 1 } });
// @ts-expect-error missing data
hub.broadcast({ event: 'tick' });
// @ts-expect-error missing field of the data
hub.broadcastTo('ticker', { event: 'tick', data: { symbol: 'A' } });
// @ts-expect-error the unnamed event carries the message data
hub.broadcast({ data: 1 });

// A typed hub is still a Broadcaster (adapters and backends take it).
const asBroadcaster: Broadcaster = hub;
void asBroadcaster;
const typedBroadcaster: Broadcaster<Events> = hub;
// @ts-expect-error through the Broadcaster<Events> type too
void typedBroadcaster.broadcast({ event: 'tick', data: 1 });

// Untyped use is unchanged.
const untyped = new Hub();
untyped.broadcast({ event: 'anything', data: { any: 'thing' } });
untyped.broadcast({ retry: 1000 });
untyped.broadcast({ id: 'x' });

declare const conn: Connection<Events>;
async function use(): Promise<void> {
  await conn.send({ event: 'tick', data: { symbol: 'A', price: 2 } });
  await conn.send({ data: 'hello' });
  // @ts-expect-error wrong payload
  await conn.send({ event: 'tick', data: 'x' });
  // @ts-expect-error unknown name
  await conn.send({ event: 'other', data: 'x' });
  await conn.pipe(['a', { event: 'tick', data: { symbol: 'A', price: 3 } }]);
  // @ts-expect-error a piped event must be one of the map
  await conn.pipe([{ event: 'tick', data: { symbol: 'A' } }]);
  await conn.setRetry(1000);
  hub.register(conn);
}
void use;

// Strings are piped as messages only when the message data is a string.
declare const noMessage: Connection<{ tick: number }>;
// @ts-expect-error no string message in this map
void noMessage.pipe(['a']);

// Schemas are checked against the map's data types.
declare const tickSchema: StandardSchemaV1<{ symbol: string; price: number }>;
declare const numberSchema: StandardSchemaV1<number>;
const schemas: SseSchemas<Events> = { tick: tickSchema };
new Hub<Events>({ schemas });
// @ts-expect-error the schema of tick must produce tick's data
new Hub<Events>({ schemas: { tick: numberSchema } });
// @ts-expect-error no schema for a name outside the map
new Hub<Events>({ schemas: { tock: numberSchema } });

// Control events (a bare retry or id) fit every map; a name or data makes them events again.
hub.broadcast({ retry: 1000 });
hub.broadcast({ id: 'checkpoint' });
// @ts-expect-error a named event needs its data
hub.broadcast({ event: 'tick', retry: 1000 });
// @ts-expect-error data of no event of the map
hub.broadcast({ retry: 1000, data: 1 });
// The map is given, never inferred from the schemas.
declare const anySchema: StandardSchemaV1<number>;
new Hub({ schemas: { tick: anySchema } }).broadcast({ event: 'other', data: 'x' });

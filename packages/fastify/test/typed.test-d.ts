/** Type test, compiled by `npm run typecheck` and never run: `typedSse<Events>(app)`. */
import Fastify from 'fastify';
import { fastifySse, typedSse, type Connection, type Hub, type TypedFastifySse } from '@ssekit/fastify';

type Events = { tick: { symbol: string; price: number }; message: string };

async function main(): Promise<void> {
  const app = Fastify();
  await app.register(fastifySse, { heartbeatMs: 1000 });
  const sse: TypedFastifySse<Events> = typedSse<Events>(app);
  const hub: Hub<Events> = sse.hub;
  hub.broadcast({ event: 'tick', data: { symbol: 'A', price: 1 } });
  // @ts-expect-error wrong payload
  sse.hub.broadcast({ event: 'tick', data: { symbol: 'A', price: '1' } });
  // @ts-expect-error unknown event name
  sse.hub.broadcastTo('ticker', { event: 'tock', data: 1 });
  // @ts-expect-error missing data
  sse.hub.broadcast({ event: 'tick' });
  const count: number = sse.connectionCount();
  void count;

  app.get('/events', async (_request, reply) => {
    const conn: Connection<Events> = await sse.open(reply, { topics: ['ticker'] });
    await conn.send({ event: 'tick', data: { symbol: 'A', price: 2 } });
    // @ts-expect-error wrong payload on the connection
    await conn.send({ event: 'tick', data: null });
    const same: Connection<Events> = await reply.sse<Events>();
    void same;
    // Untyped as before.
    const plain = await reply.sse();
    await plain.send({ event: 'anything', data: 1 });
    // @ts-expect-error the untyped app.sseHub is no Hub<Events>
    const wrong: Hub<Events> = app.sseHub;
    void wrong;
  });
}
void main;

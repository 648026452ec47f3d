/**
 * Type test, compiled by `npm run typecheck` and never run: a strict user file must be able to
 * use everything the plugin adds without casts, and misuse must not compile.
 */
import Fastify from 'fastify';
import fastifySseDefault, { fastifySse, type Hub, MemoryReplayer, type Broadcaster, type Connection } from '@ssekit/fastify';

async function main(): Promise<void> {
  const app = Fastify();
  await app.register(fastifySse, {
    heartbeatMs: 15_000,
    authorize: async (request, topics) => request.headers.authorization !== undefined && topics.length < 10,
  });
  const hub: Broadcaster = app.sseHub;
  void hub.broadcast({ data: { hello: 'world' } });
  // The decorated hub is a Broadcaster; the in-memory hub's extras need the documented cast.
  const memory = app.sseHub as Hub;
  const topics: string[] = memory.topicNames();
  const open: number = app.sseConnectionCount();
  void [topics, open];
  await app.register(fastifySse, { replayer: new MemoryReplayer(100) });

  app.get<{ Querystring: { room: string } }>('/events', async (request, reply) => {
    const conn: Connection = await reply.sse({ topics: [request.query.room] });
    await conn.send({ event: 'ready', data: 'x' });
    // @ts-expect-error topics is an array of strings
    await reply.sse({ topics: request.query.room });
    // @ts-expect-error unknown option
    await reply.sse({ topic: [request.query.room] });
  });

  // @ts-expect-error heartbeatMs is a number
  await app.register(fastifySseDefault, { heartbeatMs: '15s' });
  // @ts-expect-error hub must be a Broadcaster
  await app.register(fastifySse, { hub: {} });
  // @ts-expect-error the decorated hub is a Broadcaster
  const wrong: string = app.sseHub;
  void wrong;
}
void main;

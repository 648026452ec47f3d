// Server-Sent Events on Fastify: an LLM-style token stream piped to the client, and a clock.
//   node examples/fastify/server.mjs     then     curl -N http://localhost:3003/tokens
import Fastify from 'fastify';
import { fastifySse } from '@ssekit/fastify';

const app = Fastify();
await app.register(fastifySse, { heartbeatMs: 15_000 });

// A stand-in for a model's token stream: stops as soon as the client goes away.
async function* tokens(signal) {
  for (const word of 'Server-Sent Events stream one token at a time'.split(' ')) {
    if (signal.aborted) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
    yield { event: 'token', data: word };
  }
  yield { event: 'done', data: '' };
}

app.get('/tokens', async (request, reply) => {
  const conn = await reply.sse();
  await conn.pipe(tokens(conn.signal)); // backpressure-aware; calls return() if the client leaves
  conn.close();
});

app.get('/clock', async (request, reply) => {
  await reply.sse({ topics: ['clock'] });
});

const clock = setInterval(() => app.sseHub.broadcastTo('clock', { event: 'time', data: { now: Date.now() } }), 1000);
app.addHook('onClose', async () => clearInterval(clock));

await app.listen({ port: Number(process.env.PORT ?? 3003), host: '127.0.0.1' });
console.log(`SSE on http://localhost:${app.server.address().port}/tokens`);

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => app.close()); // preClose ends every stream first
}

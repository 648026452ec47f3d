// Server-Sent Events on Express: a notification feed per user topic, a global clock, replay.
//   node examples/express/server.mjs     then     curl -N 'http://localhost:3002/events?user=ada'
import express from 'express';
import { expressSse } from '@ssekit/express';
import { MemoryReplayer } from '@ssekit/core';

const app = express();
const sse = expressSse({ replayer: new MemoryReplayer(1000), retryMs: 2000 });
app.use(sse);

app.get('/events', async (req, res) => {
  const user = typeof req.query.user === 'string' ? req.query.user : 'guest';
  // Subscribes to this user's notifications; a bad name (empty, control characters) gets a 400.
  const conn = await res.sse({ topics: [`user:${user}`] });
  await conn.send({ event: 'welcome', data: { user, resumed: conn.lastEventId !== undefined } });
});

app.post('/notify/:user', express.json(), (req, res) => {
  const event = sse.hub.broadcastTo(`user:${req.params.user}`, { event: 'notification', data: req.body ?? {} });
  res.json({ id: event?.id });
});

const clock = setInterval(() => sse.hub.broadcast({ event: 'time', data: { now: new Date().toISOString() } }), 1000);

const server = app.listen(Number(process.env.PORT ?? 3002), () => {
  console.log(`SSE on http://localhost:${server.address().port}/events?user=ada`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    clearInterval(clock);
    await sse.close(server); // ends every stream with a retry hint, then closes the server
  });
}

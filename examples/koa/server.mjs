// Server-Sent Events on Koa: a progress bar for a background job, with a per-job topic.
//   node examples/koa/server.mjs     then     curl -N http://localhost:3004/jobs/42/progress
import Koa from 'koa';
import { koaSse } from '@ssekit/koa';

const app = new Koa();
const sse = koaSse({ heartbeatMs: 15_000 });
app.use(sse);

const running = new Map();

function startJob(id) {
  if (running.has(id)) return;
  let percent = 0;
  const timer = setInterval(() => {
    percent += 10;
    sse.hub.broadcastTo(`job:${id}`, { event: 'progress', data: { id, percent } });
    if (percent >= 100) {
      clearInterval(timer);
      running.delete(id);
    }
  }, 200);
  running.set(id, timer);
}

app.use(async (ctx) => {
  const match = /^\/jobs\/(\w{1,32})\/progress$/.exec(ctx.path);
  if (!match) {
    ctx.status = 404;
    ctx.body = 'Try /jobs/42/progress\n';
    return;
  }
  await ctx.sse({ topics: [`job:${match[1]}`] }); // Koa will not touch the response afterwards
  startJob(match[1]);
});

const server = app.listen(Number(process.env.PORT ?? 3004), () => {
  console.log(`SSE on http://localhost:${server.address().port}/jobs/42/progress`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    for (const timer of running.values()) clearInterval(timer);
    await sse.close(server);
  });
}

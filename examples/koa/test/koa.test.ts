import { assertBuilt, connect, runScript, type RunningScript } from '@ssekit/testkit';

describe('examples/koa', () => {
  let example: RunningScript;

  beforeAll(async () => {
    assertBuilt(['core', 'koa']);
    example = await runScript('examples/koa/server.mjs');
  });

  afterAll(async () => {
    await example?.stop('SIGKILL');
  });

  it('reports the progress of its own job only, up to 100%', async () => {
    const job = await connect(`${example.url}/jobs/7/progress`);
    const other = await connect(`${example.url}/jobs/8/progress`);
    expect(job.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    await job.waitFor((e) => e.event === 'progress' && JSON.parse(e.data).percent === 100, 5000);
    const seen = job.events.filter((e) => e.event === 'progress').map((e) => JSON.parse(e.data));
    expect(seen.map((p) => p.percent)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    expect(seen.every((p) => p.id === '7')).toBe(true);
    await other.waitFor((e) => e.event === 'progress' && JSON.parse(e.data).percent === 100, 5000);
    expect(other.events.every((e) => JSON.parse(e.data).id === '8')).toBe(true);
    job.close();
    other.close();
  });

  it('answers 404 elsewhere and exits cleanly on SIGTERM with a stream open', async () => {
    expect((await fetch(`${example.url}/nope`)).status).toBe(404);
    const open = await connect(`${example.url}/jobs/9/progress`);
    expect(await example.stop('SIGTERM')).toBe(0);
    open.close();
  });
});

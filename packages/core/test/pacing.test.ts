/**
 * `maxConnectsPerSecond`: a connect past the rate gets 200, a randomized `retry:` and an ended
 * stream, with nothing registered or replayed; real EventSource clients (the `eventsource`
 * package and Chromium's own) come back after the hint and all end up connected.
 */
import { MemoryReplayer, SseOptionsError, createSseHandler } from '@ssekit/core';
import { EventSource } from 'eventsource';
import { launchChromium } from '@ssekit/testkit/chromium';
import { ConnectPacer } from '../src/pacing';
import { closeAll, connect, handlerServer, startServer, track, waitFor } from './helpers';

afterEach(closeAll);

describe('ConnectPacer', () => {
  it('admits a second worth at once, then at the rate; hints spread over the backlog', () => {
    let now = 0;
    let random = 0;
    const pacer = new ConnectPacer(10, () => now, () => random);
    for (let i = 0; i < 10; i++) expect(pacer.admit()).toBe(true);
    expect(pacer.admit()).toBe(false);
    now = 100;
    expect(pacer.admit()).toBe(true);
    expect(pacer.admit()).toBe(false);
    // The shortest hint, and a window of at least a second.
    expect(pacer.retryMs()).toBe(500);
    random = 0.999;
    expect(pacer.retryMs()).toBeLessThan(1500);
    // 100 turned away at 10/s: spread over about ten seconds.
    for (let i = 0; i < 100; i++) pacer.retryMs();
    expect(pacer.retryMs()).toBeGreaterThan(9000);
  });

  it('rejects a rate that is not a positive number', () => {
    for (const bad of [0, -1, Number.NaN, '5']) {
      expect(() => createSseHandler({ maxConnectsPerSecond: bad as number })).toThrow(SseOptionsError);
    }
  });
});

describe('maxConnectsPerSecond', () => {
  it('answers a connect past the rate with 200, a retry hint and an ended stream: nothing registered or replayed', async () => {
    const replayer = new MemoryReplayer(10);
    const { handler, opened, server } = await handlerServer({ replayer, heartbeatMs: 0, maxConnectsPerSecond: 1, headers: { 'x-app': 'yes' } });
    const first = await connect(server.url);
    const admitted = await opened.next();
    expect(admitted.closed).toBe(false);
    const seen = (await handler.hub.broadcast({ data: 'one' }))!;
    const paced = await connect(server.url, { 'Last-Event-ID': `${replayer.prefix}-0` });
    expect(paced.status).toBe(200);
    expect(paced.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(paced.headers['x-app']).toBe('yes');
    const retry = await paced.nextRetry();
    expect(retry).toBeGreaterThanOrEqual(500);
    expect(retry).toBeLessThan(1500);
    await paced.ended;
    // Ended at once, with no event: the missed `one` was not replayed.
    expect(paced.text).toBe(`retry: ${retry}\n\n`);
    const closed = await opened.next();
    expect(closed.closed).toBe(true);
    expect(handler.connectionCount()).toBe(1);
    expect(handler.hub.connectionCount()).toBe(1);
    expect((await first.nextEvent()).id).toBe(seen.id);
  });

  it('an `eventsource` client turned away comes back after the hint; 8 at once all end up connected at about the rate', async () => {
    const { handler, server } = await handlerServer({ heartbeatMs: 0, maxConnectsPerSecond: 4 });
    const started = Date.now();
    const sources = Array.from({ length: 8 }, () => new EventSource(server.url));
    for (const source of sources) track(() => source.close());
    await waitFor(() => handler.connectionCount() === 8, 15_000, 'every client to be connected');
    // A burst of 4 at once, the others paced: they came back after a hint of at least 500 ms.
    expect(Date.now() - started).toBeGreaterThan(500);
    await waitFor(() => sources.every((s) => s.readyState === EventSource.OPEN), 5000, 'every EventSource to be open');
    handler.hub.broadcast({ data: 'to all' });
    const got = await Promise.all(sources.map((s) => new Promise<string>((resolve) => (s.onmessage = (e: MessageEvent) => resolve(e.data as string)))));
    expect(got).toEqual(Array(8).fill('to all'));
  }, 30_000);

  it("Chromium's own EventSource comes back after the hint too (a 503 would stop it for good)", async () => {
    const handler = createSseHandler({ heartbeatMs: 0, maxConnectsPerSecond: 1 });
    track(() => handler.close());
    // The page and its streams on one origin (a cross-origin EventSource would need CORS).
    let refusedRequests = 0;
    const page = await startServer((req, res) => {
      if (req.url === '/events') {
        handler.open(req, res).catch(() => res.destroy());
        return;
      }
      if (req.url === '/refused') {
        refusedRequests++;
        res.writeHead(503, { 'retry-after': '1' }).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><script>
        window.opened = 0; window.messages = [];
        for (let i = 0; i < 3; i++) {
          const source = new EventSource('/events');
          source.onopen = () => window.opened++;
          source.onmessage = (e) => window.messages.push(e.data);
        }
        window.refused = new EventSource('/refused');
      </script>`);
    });
    const { context } = await launchChromium('ssekit-pacing-');
    const tab = await context.newPage();
    await tab.goto(page.url);
    await waitFor(() => handler.connectionCount() === 3, 20_000, 'all three EventSources to be connected');
    handler.hub.broadcast({ data: 'hello' });
    await tab.waitForFunction(() => (window as unknown as { messages: string[] }).messages.length === 3, undefined, { timeout: 5000 });
    // Each paced connect was an open (a 200) before the stream ended and the browser came back.
    expect(await tab.evaluate(() => (window as unknown as { opened: number }).opened)).toBeGreaterThan(3);
    // Meanwhile the EventSource that got a 503 gave up after one request and stays closed.
    expect(await tab.evaluate(() => (window as unknown as { refused: EventSource }).refused.readyState)).toBe(2);
    expect(refusedRequests).toBe(1);
  }, 40_000);
});

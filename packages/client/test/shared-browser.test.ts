/**
 * `shared: true` in a real browser: the system Chromium, driven by playwright-core, loads the
 * client's built ESM (unbundled, as a page would) into pages of one origin served by a real
 * ssekit server. The server counts the streams it holds and records, by itself, the id of
 * every event it broadcasts: the yardstick for "every event, none twice".
 *
 * Chromium is required, never downloaded: `apt-get install -y chromium` (or set
 * CHROMIUM_PATH). Without it this suite fails; it does not skip.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { createSseHandler, MemoryReplayer, type Hub } from '@ssekit/core';
import { assertBuilt, startServer, waitFor } from '@ssekit/testkit';
import { launchChromium, type Browser } from '@ssekit/testkit/chromium';

const DIST = resolve(__dirname, '../dist');

/** The page: one shared stream, everything it receives kept on `window` for the test. */
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>shared stream</title>
<link rel="icon" href="data:,">
<script type="module">
  import { connect } from '/client/index.mjs';
  const params = new URLSearchParams(location.search);
  const lastEventId = params.get('lastEventId') ?? undefined;
  const stream = connect('/events', { shared: true, lastEventId, retry: { initialMs: 50, maxMs: 500 } });
  window.stream = stream;
  window.received = [];
  window.gaps = [];
  stream.on('message', (data, meta) => window.received.push({ id: meta.id, n: data.n }));
  stream.on('gap', (info) => window.gaps.push(info));
  stream.on('open', () => (document.title = 'open'));
</script>`;

interface Received {
  id: string;
  n: number;
}

/** A server that streams a tick every 20 ms and remembers everything about its streams. */
async function startTickServer() {
  const replayer = new MemoryReplayer(10_000);
  const handler = createSseHandler({ replayer, resetEvent: true, heartbeatMs: 1000 });
  const hub = handler.hub as Hub;
  /** Every id broadcast, in order: the server's own record, independent of any client. */
  const broadcast: string[] = [];
  /** `Last-Event-ID` of every stream request, in order. */
  const resumedFrom: (string | undefined)[] = [];
  let open = 0;
  const listening = await startServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === '/page.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
    } else if (path.startsWith('/client/')) {
      const file = join(DIST, path.slice('/client/'.length));
      if (!file.startsWith(DIST) || !existsSync(file)) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(readFileSync(file));
    } else if (path === '/events') {
      resumedFrom.push(req.headers['last-event-id'] as string | undefined);
      handler.open(req, res).then(
        (conn) => {
          open++;
          conn.onClose(() => open--);
        },
        () => res.writeHead(500).end(),
      );
    } else {
      res.writeHead(404).end();
    }
  });
  let n = 0;
  const ticker = setInterval(() => {
    const stored = hub.broadcast({ data: { n: ++n } });
    if (stored?.id) broadcast.push(stored.id);
  }, 20);
  return {
    url: listening.url,
    broadcast,
    resumedFrom,
    openStreams: () => open,
    async close() {
      clearInterval(ticker);
      await handler.close(listening.server);
    },
  };
}

function received(page: Page): Promise<Received[]> {
  return page.evaluate(() => (window as unknown as { received: Received[] }).received.slice());
}

function role(page: Page): Promise<string> {
  return page.evaluate(() => (window as unknown as { stream: { role: string } }).stream.role);
}

/** Waits until `page` has received at least `count` events. */
async function receivedAtLeast(page: Page, count: number, timeoutMs = 10_000): Promise<Received[]> {
  await page.waitForFunction((wanted) => (window as unknown as { received: unknown[] }).received.length >= wanted, count, { timeout: timeoutMs });
  return received(page);
}

describe('shared: true in Chromium', () => {
  let browser: Browser;
  let context: BrowserContext;
  let server: Awaited<ReturnType<typeof startTickServer>>;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    assertBuilt(['client']);
    server = await startTickServer();
    browser = await launchChromium('ssekit-client-e2e-');
    context = browser.context;
    context.setDefaultTimeout(10_000);
  }, 40_000);

  afterEach(async () => {
    await Promise.all(context?.pages().map((page) => page.close()) ?? []);
    await waitFor(() => server.openStreams() === 0, 5000, 'every stream to close');
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  async function openPage(query = ''): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
    await page.goto(`${server.url}/page.html${query}`);
    await page.waitForFunction(() => document.title === 'open');
    return page;
  }

  /** `ids` are a run of consecutive broadcasts: none missing, none twice, in order. */
  async function expectContiguous(ids: string[]): Promise<void> {
    await waitFor(() => server.broadcast.includes(ids.at(-1)!), 5000, 'the server to record the last id');
    const first = server.broadcast.indexOf(ids[0]!);
    expect(first).toBeGreaterThanOrEqual(0);
    expect(ids).toEqual(server.broadcast.slice(first, first + ids.length));
  }

  it('one server connection for two pages, and both get every event', async () => {
    const requestsBefore = server.resumedFrom.length;
    const a = await openPage();
    const b = await openPage();
    expect(await role(a)).toBe('leader');
    expect(await role(b)).toBe('follower');
    const fromA = await receivedAtLeast(a, 30);
    const fromB = await receivedAtLeast(b, 30);
    expect(server.openStreams()).toBe(1);
    expect(server.resumedFrom.length - requestsBefore).toBe(1);
    await expectContiguous(fromA.map((e) => e.id));
    await expectContiguous(fromB.map((e) => e.id));
    // The follower joined later: the leader has everything it has.
    const lastOfB = fromB.at(-1)!.id;
    await a.waitForFunction((id) => (window as unknown as { received: Received[] }).received.some((e) => e.id === id), lastOfB);
    const idsOfA = (await received(a)).map((e) => e.id);
    expect(idsOfA.slice(idsOfA.indexOf(fromB[0]!.id), idsOfA.indexOf(lastOfB) + 1)).toEqual(fromB.map((e) => e.id));
    expect(pageErrors).toEqual([]);
  }, 30_000);

  it('when the leading page closes, the other takes over and resumes after its last id: nothing lost, nothing twice', async () => {
    const a = await openPage();
    const b = await openPage();
    expect(await role(b)).toBe('follower');
    await receivedAtLeast(b, 20);
    const requestsBefore = server.resumedFrom.length;

    await a.close(); // the browser releases the leader's lock with the page
    await b.waitForFunction(() => (window as unknown as { stream: { role: string } }).stream.role === 'leader');
    await waitFor(() => server.resumedFrom.length === requestsBefore + 1, 5000, 'the new leader to connect');
    const resumedAfter = server.resumedFrom.at(-1);
    const atHandoff = (await received(b)).length;
    const all = await receivedAtLeast(b, atHandoff + 30);
    const ids = all.map((e) => e.id);
    // It resumed after an id it had received, the last one before it took over.
    expect(ids).toContain(resumedAfter);
    expect(ids.indexOf(resumedAfter!)).toBeLessThan(atHandoff);
    await expectContiguous(ids);
    await waitFor(() => server.openStreams() === 1, 5000, "the old leader's stream to close");
    expect(pageErrors).toEqual([]);
  }, 30_000);

  it('close() on the leading stream hands the connection over the same way', async () => {
    const a = await openPage();
    const b = await openPage();
    const c = await openPage();
    await receivedAtLeast(c, 10);
    await a.evaluate(() => (window as unknown as { stream: { close(): void } }).stream.close());
    const leads = (page: Page) => page.waitForFunction(() => (window as unknown as { stream: { role: string } }).stream.role === 'leader');
    await Promise.any([leads(b), leads(c)]);
    expect([await role(b), await role(c)].sort()).toEqual(['follower', 'leader']);
    const [fromB, fromC] = await Promise.all([receivedAtLeast(b, (await received(b)).length + 30), receivedAtLeast(c, (await received(c)).length + 30)]);
    await expectContiguous(fromB.map((e) => e.id));
    await expectContiguous(fromC.map((e) => e.id));
    await waitFor(() => server.openStreams() === 1, 5000, 'one stream for the two pages left');
  }, 30_000);

  it('a page that joins with a lastEventId gets what it missed from the leader, or a gap', async () => {
    const a = await openPage();
    const early = await receivedAtLeast(a, 10);
    const since = early[4]!.id;
    const b = await openPage(`?lastEventId=${encodeURIComponent(since)}`);
    const fromB = await receivedAtLeast(b, 20);
    expect(fromB[0]!.id).toBe(early[5]!.id);
    await expectContiguous(fromB.map((e) => e.id));

    const c = await openPage('?lastEventId=never-seen');
    await c.waitForFunction(() => (window as unknown as { gaps: unknown[] }).gaps.length === 1);
    expect(await c.evaluate(() => (window as unknown as { gaps: unknown[] }).gaps)).toEqual([{ lastEventId: 'never-seen' }]);
    expect(server.openStreams()).toBe(1);
  }, 30_000);
});

// The page.evaluate() callbacks below run in the browser.
/// <reference lib="dom" />
/**
 * The demo in a real browser: `node examples/demo/server.mjs` on a free port, driven by the
 * system Chromium through playwright-core; the page runs the built @ssekit/client. A plain HTTP
 * client subscribed to every topic records what the server broadcast, and the page's event log
 * is compared with it.
 *
 * Chromium is required, never downloaded: `apt-get install -y chromium` (or set
 * CHROMIUM_PATH). Without it this suite fails; it does not skip.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { ROOT, assertBuilt, connect, runScript, waitFor, type RunningScript, type SseClient } from '@ssekit/testkit';
import { launchChromium, type Browser } from '@ssekit/testkit/chromium';

interface LoggedEvent {
  id: string;
  event: string;
  topic: string;
  n: number;
  delivery: string;
}

type LogRow = ({ kind: 'event' } & LoggedEvent) | { kind: 'system'; text: string };

/** The page's event log, oldest first: events and the page's own notes (lost, resumed, ...). */
function logRows(page: Page): Promise<LogRow[]> {
  return page.$$eval('#log tr', (rows) =>
    rows
      .map((row): LogRow => {
        const d = (row as HTMLElement).dataset;
        return row.classList.contains('event')
          ? { kind: 'event', id: d.id ?? '', event: d.event ?? '', topic: d.topic ?? '', n: Number(d.n), delivery: d.delivery ?? '' }
          : { kind: 'system', text: row.textContent ?? '' };
      })
      .reverse(),
  );
}

async function loggedEvents(page: Page): Promise<LoggedEvent[]> {
  return (await logRows(page)).filter((row): row is { kind: 'event' } & LoggedEvent => row.kind === 'event');
}

/** Waits until the log shows `count` live events after the page's note containing `note`. */
async function liveEventsAfter(page: Page, note: string, count: number): Promise<void> {
  await page.waitForFunction(
    ([text, wanted]) => {
      let live = 0;
      for (const row of document.querySelectorAll<HTMLElement>('#log tr')) {
        if (row.classList.contains('system') && row.textContent?.includes(text)) return live >= wanted; // newest first
        if (row.dataset.delivery === 'live') live++;
      }
      return false;
    },
    [note, count] as const,
  );
}

async function openPage(context: BrowserContext, url: string, errors: string[]): Promise<Page> {
  const page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(url);
  await page.locator('#status[data-state="open"]').waitFor({ timeout: 10_000 });
  await page.locator('#drop:not([disabled])').waitFor({ timeout: 5000 }); // `hello` arrived
  return page;
}

async function postChat(baseUrl: string, text: string): Promise<{ n: number }> {
  const response = await fetch(`${baseUrl}/chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'test', text }),
  });
  expect(response.status).toBe(201);
  return (await response.json()) as { n: number };
}

async function connectionCount(baseUrl: string): Promise<number> {
  const response = await fetch(`${baseUrl}/stats`);
  return ((await response.json()) as { connections: number }).connections;
}

describe('examples/demo in Chromium', () => {
  let demo: RunningScript;
  let browser: Browser;
  let context: BrowserContext;
  let reference: SseClient;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    assertBuilt(['core', 'express', 'client']);
    demo = await runScript('examples/demo/server.mjs');
    browser = await launchChromium('ssekit-demo-e2e-');
    context = browser.context;
    context.setDefaultTimeout(5000);
    // Everything the server broadcasts, in order, as the yardstick for the page.
    reference = await connect(`${demo.url}/events?topics=ticker,chat`);
  }, 40_000);

  afterEach(async () => {
    // Pages of a failed test must not keep streams open for the next ones.
    await Promise.all(context?.pages().map((page) => page.close()) ?? []);
  });

  afterAll(async () => {
    reference?.close();
    await browser?.close();
    await demo?.stop('SIGKILL');
  });

  /** The reference recording's broadcasts, once it has caught up with `lastId`. */
  async function broadcastIds(lastId: string): Promise<string[]> {
    await reference.waitFor((e) => e.id === lastId, 5000);
    return reference.events.filter((e) => e.event === 'tick' || e.event === 'chat').map((e) => e.id!);
  }

  it('shows live ticks, and nothing from a topic the page did not subscribe to', async () => {
    const page = await openPage(context, `${demo.url}/?topics=ticker`, pageErrors);
    await page.locator('#log tr.event[data-event="tick"]').nth(2).waitFor({ timeout: 5000 });
    await expect(page.locator('.quote').count()).resolves.toBe(4);

    const message = await postChat(demo.url, 'only for chat subscribers');
    await reference.waitFor((e) => e.event === 'chat', 5000);
    // Events reach a stream in broadcast order: once a later tick is shown, the chat message
    // would have been shown before it.
    await page.locator(`#log tr.event[data-n="${message.n + 1}"]`).waitFor({ timeout: 5000 });
    const events = await loggedEvents(page);
    expect(events.filter((e) => e.topic !== 'ticker')).toEqual([]);
    await expect(page.locator('#messages li').count()).resolves.toBe(0);
  });

  it('survives a dropped stream: replays what it missed, with no gap and no duplicate', async () => {
    const page = await openPage(context, `${demo.url}/?topics=ticker,chat`, pageErrors);
    await page.locator('#log tr.event[data-delivery="live"]').nth(1).waitFor({ timeout: 5000 });
    const before = await loggedEvents(page);

    await page.locator('#drop').click();
    await page.locator('#status[data-state="reconnecting"]').waitFor({ timeout: 5000 });
    // Broadcast while the page is away; the browser reconnects after the 1 s retry delay.
    const missed = await postChat(demo.url, 'sent while you were away');
    await page.locator('#log tr.event[data-delivery="replayed"]').first().waitFor({ timeout: 10_000 });
    await page.locator('#status[data-state="open"]').waitFor({ timeout: 5000 });
    await expect(page.locator('#messages li', { hasText: 'sent while you were away' }).count()).resolves.toBe(1);

    // @ssekit/client said when it would reconnect, and after which id: the server's 1 s
    // retry, half of it random, and the last id the page had when the stream ended.
    const note = await page.locator('#log tr.system', { hasText: 'Stream lost' }).first().textContent();
    const [, delay, resumedAfter] = /Reconnecting in (\d+) ms \(attempt 1\) with Last-Event-ID (\S+)\./.exec(note ?? '') ?? [];
    expect(Number(delay)).toBeGreaterThanOrEqual(500);
    expect(Number(delay)).toBeLessThanOrEqual(1000);

    // Two live events after the replay, then compare with what the server broadcast.
    await liveEventsAfter(page, 'Stream lost', 2);
    const events = await loggedEvents(page);
    const ids = events.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);

    const broadcast = await broadcastIds(ids[ids.length - 1]!);
    const first = broadcast.indexOf(ids[0]!);
    expect(first).toBeGreaterThanOrEqual(0);
    expect(ids).toEqual(broadcast.slice(first, first + ids.length));

    // After the stream was lost: first the replayed events (the chat sent meanwhile among
    // them), then only live ones.
    const rows = await logRows(page);
    const lost = rows.findIndex((row) => row.kind === 'system' && row.text.includes('Stream lost'));
    expect(lost).toBeGreaterThan(0);
    const after = rows.slice(lost).filter((row): row is { kind: 'event' } & LoggedEvent => row.kind === 'event');
    const replayed = after.filter((e) => e.delivery === 'replayed');
    expect(replayed.length).toBeGreaterThanOrEqual(1);
    expect(after.slice(0, replayed.length)).toEqual(replayed);
    expect(after.slice(replayed.length).every((e) => e.delivery === 'live')).toBe(true);
    expect(replayed.map((e) => e.n)).toContain(missed.n);
    // The replay starts right after the id the client resumed with.
    expect(broadcast[broadcast.indexOf(resumedAfter!) + 1]).toBe(replayed[0]!.id);
    expect(before.every((e) => ids.includes(e.id))).toBe(true);
    await expect(page.locator('#counts').textContent()).resolves.toContain('0 duplicates');
  }, 30_000);

  it('runs the built @ssekit/client in the page, unbundled, as the package ships it', async () => {
    const page = await context.newPage();
    const loaded = page.waitForResponse((r) => new URL(r.url()).pathname === '/vendor/ssekit-client/index.mjs');
    await page.goto(`${demo.url}/?topics=ticker`);
    const response = await loaded;
    expect(response.status()).toBe(200);
    expect(response.headers()['content-type']).toMatch(/^(text|application)\/javascript/);
    expect(await response.text()).toBe(readFileSync(join(ROOT, 'packages/client/dist/index.mjs'), 'utf8'));
    await page.locator('#status[data-state="open"]').waitFor({ timeout: 10_000 });
  });

  it('shows a gap notice and reloads state when the server cannot replay', async () => {
    const page = await openPage(context, `${demo.url}/`, pageErrors);
    await expect(page.locator('#gap-notice').isVisible()).resolves.toBe(false);
    const snapshot = page.waitForResponse((r) => new URL(r.url()).pathname === '/state' && r.ok());
    await page.locator('#gap').click();
    await page.locator('#gap-notice').waitFor({ state: 'visible' });
    await page.locator('#log tr.system.gap', { hasText: 'ssekit-reset' }).waitFor();
    await snapshot; // the page reloaded its state
    await page.locator('#status[data-state="open"]').waitFor();
    await liveEventsAfter(page, 'ssekit-reset', 1); // and goes on live
  });

  it('sends a chat message from the form to every subscribed page', async () => {
    const sender = await openPage(context, `${demo.url}/`, pageErrors);
    const receiver = await openPage(context, `${demo.url}/?topics=chat`, pageErrors);
    await sender.locator('#chat-name').fill('e2e');
    await sender.locator('#chat-text').fill('hello from the form');
    await sender.locator('#chat-form button').click();
    for (const page of [sender, receiver]) {
      await page.locator('#messages li', { hasText: 'hello from the form' }).waitFor({ timeout: 5000 });
    }
    await expect(sender.locator('#chat-text').inputValue()).resolves.toBe('');
  });

  it('refuses an invalid topic with 400 before opening a stream', async () => {
    const response = await fetch(`${demo.url}/events?topics=ticker,${'x'.repeat(300)}`);
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({ error: expect.stringContaining('256 characters') });
  });

  it('unregisters every stream once the pages are closed', async () => {
    reference.close();
    await waitFor(async () => (await connectionCount(demo.url)) === 0, 5000, 'every stream to unregister', 50).catch(() => {});
    expect(await connectionCount(demo.url)).toBe(0);
    expect(pageErrors).toEqual([]);
  });

  it('on SIGTERM, ends open streams and exits cleanly', async () => {
    const open = await connect(`${demo.url}/events?topics=ticker`);
    const ended = open.closed;
    await expect(demo.stop('SIGTERM')).resolves.toBe(0);
    await ended;
    expect(demo.output()).toContain('closing streams');
  });
});

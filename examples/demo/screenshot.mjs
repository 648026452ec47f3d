/**
 * Renders the demo page after a forced disconnect and saves `docs/demo.png`.
 *
 *   node examples/demo/screenshot.mjs [output.png]
 *
 * Uses the system Chromium (`apt-get install chromium`) through playwright-core from the root
 * devDependencies, with the browser suites' launch flags (`@ssekit/testkit/chromium-args.json`);
 * it never downloads a browser. Set CHROMIUM_PATH to use another binary.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { start } from './server.mjs';

const output = process.argv[2] ?? fileURLToPath(new URL('../../docs/demo.png', import.meta.url));
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const demo = await start({ port: 0, log: () => {} });
const profile = await mkdtemp(join(tmpdir(), 'ssekit-demo-shot-'));
let browser;
try {
  // A persistent context on a fresh, empty profile directory (removed below).
  browser = await chromium.launchPersistentContext(profile, {
    executablePath,
    args: createRequire(import.meta.url)('@ssekit/testkit/chromium-args.json'),
    viewport: { width: 1280, height: 840 },
    timeout: 20_000,
  });
  const page = await browser.newPage();
  const say = (name, text) =>
    fetch(`${demo.url}/chat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, text }) });

  await say('ada', 'Morning! ACME looks busy today.');
  await page.goto(demo.url);
  await page.locator('#status[data-state="open"]').waitFor({ timeout: 10_000 });
  await page.locator('#chat-name').fill('grace');
  await page.waitForTimeout(5000); // some ticks for the sparklines

  // Drop the stream; a chat message sent meanwhile comes back with the replayed ticks.
  await page.locator('#drop').click();
  await page.locator('#status[data-state="reconnecting"]').waitFor({ timeout: 5000 });
  await say('ada', 'Did you get this while you were disconnected?');
  await page.locator('#log tr[data-delivery="replayed"]').first().waitFor({ timeout: 10_000 });
  await page.locator('#status[data-state="open"]').waitFor({ timeout: 10_000 });
  await page.locator('#chat-text').fill('Yes: replayed on reconnect, nothing lost.');
  await page.locator('#chat-form button').click();
  await page.waitForTimeout(1600);

  await page.screenshot({ path: output, fullPage: true });
  console.log(`Saved ${output}`);
} finally {
  await browser?.close();
  await demo.close();
  await rm(profile, { recursive: true, force: true });
}

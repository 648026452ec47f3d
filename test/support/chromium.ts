/**
 * `@ssekit/testkit/chromium`: the system Chromium for browser tests, through playwright-core.
 * One set of launch flags for every suite, a fresh profile per launch, a clear failure (never
 * a download) when the browser is missing, and the browser closed by the cleanup registry.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { track } from './cleanup';

/** The Chromium binary: `CHROMIUM_PATH`, or `/usr/bin/chromium`. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Headless, no sandbox (containers), and nothing that reaches the network by itself. Kept in
 * `chromium-args.json` (exported as `@ssekit/testkit/chromium-args.json`) so that plain Node
 * scripts, such as the demo's screenshot, launch with the same flags.
 */
export const CHROMIUM_ARGS: readonly string[] = JSON.parse(readFileSync(join(__dirname, 'chromium-args.json'), 'utf8')) as string[];

/** A browser context on a fresh profile. */
export interface Browser {
  readonly context: BrowserContext;
  /** Closes the browser and removes its profile (idempotent). */
  close(): Promise<void>;
}

/**
 * Launches the system Chromium on an empty profile; throws with install advice when it is
 * missing. The browser is closed after the test, or after the file when launched outside one.
 */
export async function launchChromium(profilePrefix: string): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}. This browser test needs it: apt-get update && apt-get install -y chromium ` +
        '(or set CHROMIUM_PATH to a Chromium binary). The test never downloads a browser.',
    );
  }
  const profile = mkdtempSync(join(tmpdir(), profilePrefix));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: [...CHROMIUM_ARGS], timeout: 20_000 }).catch((error: unknown) => {
    rmSync(profile, { recursive: true, force: true });
    throw error;
  });
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= context.close().finally(() => rmSync(profile, { recursive: true, force: true })));
  track(close);
  return { context, close };
}

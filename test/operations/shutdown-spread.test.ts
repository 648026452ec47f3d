/**
 * Shutdown spreads reconnects: 1,000 streams on one handler, shut down, and the final `retry:`
 * value each client received. They stay within `shutdownRetryMs` + `shutdownRetryJitterMs` and
 * cover the window. The figures are printed (min, max, quartiles) for docs/production.md.
 */
import { connect, track, waitFor, type SseClient } from '@ssekit/testkit';
import { expressAdapter, type Route } from '@ssekit/testkit/adapters';

const route: Route = async ({ sse }) => {
  await sse();
};

test('1,000 streams get final retry hints spread over the jitter window', async () => {
  const app = await expressAdapter.start({ heartbeatMs: 0, shutdownRetryMs: 1000, shutdownRetryJitterMs: 5000 }, route);
  const clients: SseClient[] = [];
  for (let batch = 0; batch < 10; batch++) {
    clients.push(...(await Promise.all(Array.from({ length: 100 }, () => connect(app.url, {}, { timeoutMs: 20_000 })))));
  }
  track(async () => clients.forEach((c) => c.close()));
  await waitFor(() => app.connectionCount() === 1000, 20_000, '1,000 streams');
  await app.shutdown();
  await Promise.all(clients.map((c) => c.waitEnd(10_000)));
  const hints = clients.map((c) => c.retries.at(-1)!).sort((a, b) => a - b);
  expect(hints).toHaveLength(1000);
  const min = hints[0]!;
  const max = hints.at(-1)!;
  process.stdout.write(
    `shutdown retry hints over ${hints.length} streams: min ${min} ms, p25 ${hints[250]}, median ${hints[500]}, p75 ${hints[750]}, max ${max} ms, distinct ${new Set(hints).size}\n`,
  );
  expect(min).toBeGreaterThanOrEqual(1000);
  expect(max).toBeLessThanOrEqual(6000);
  // Uniform over 5 s: with 1,000 draws, the extremes fall within 100 ms of the window's ends
  // (a miss has odds below 1e-8) and no second holds more than a third of the clients.
  expect(min).toBeLessThan(1100);
  expect(max).toBeGreaterThan(5900);
  for (let s = 1; s < 6; s++) expect(hints.filter((h) => h >= s * 1000 && h < (s + 1) * 1000).length).toBeLessThan(333);
  expect(app.stats().closed.shutdown).toBe(1000);
}, 60_000);

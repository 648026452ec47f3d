/**
 * Churn: hundreds of streams opened and ended every way a stream can end (client reset,
 * client drop, polite half-close, server close) while a topic is broadcast to. Afterwards
 * nothing is left: no connection or topic on the hub, no heartbeat timer or member, no socket,
 * no timer, no listener on the process, no process warning (MaxListenersExceededWarning).
 * `pnpm stress -- --scenario churn` runs the same at 10,000 cycles with heap measurements.
 */
import * as http from 'node:http';
import { type Hub, createSseHandler, type Broadcaster, type Connection } from '@ssekit/core';
import { heartbeatStats } from '@ssekit/core/integration';
import { activeResources, connect, listen, track, waitFor, withTimeout } from '@ssekit/testkit';
import { adapters } from '@ssekit/testkit/adapters';

const CYCLES = 300;
const CONCURRENCY = 20;
const KINDS = ['reset', 'destroy', 'end', 'server'] as const;

interface Target {
  /** Base URL, no trailing slash. */
  url: string;
  hub: Broadcaster;
  connections: Connection[];
}

async function coreTarget(): Promise<Target> {
  const handler = createSseHandler({ heartbeatMs: 1000, retryMs: 1000 });
  const connections: Connection[] = [];
  const server = http.createServer((req, res) => {
    const query = new URL(req.url ?? '/', 'http://x').searchParams;
    handler.open(req, res, { topics: query.getAll('topic') }).then(
      (connection) => {
        connections.push(connection);
        if (query.has('close')) connection.close();
      },
      () => res.destroy(),
    );
  });
  const { url } = await listen(server);
  track(() => handler.close());
  return { url, hub: handler.hub, connections };
}

function processListeners(): number {
  return process.eventNames().reduce((n, name) => n + process.listenerCount(name), 0);
}

async function churn(target: Target): Promise<void> {
  const listenersBefore = processListeners();
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
  process.on('warning', onWarning);
  const before = activeResources();

  const ticker = setInterval(() => void target.hub.broadcastTo('shared', { data: 'tick' }), 5);
  let next = 0;
  const statuses: number[] = [];
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < CYCLES) {
        const i = next++;
        const kind = KINDS[i % KINDS.length]!;
        const client = await connect(`${target.url}/events?topic=shared&topic=t${i % 37}${kind === 'server' ? '&close=1' : ''}`);
        statuses.push(client.status);
        if (kind === 'reset') client.reset();
        else if (kind === 'destroy') client.close();
        else if (kind === 'end') client.socket!.end();
        await withTimeout(client.closed, 5000, `a ${kind} close`);
      }
    }),
  );
  clearInterval(ticker);

  expect(statuses.filter((s) => s !== 200)).toEqual([]);
  await waitFor(() => target.connections.length === CYCLES && target.connections.every((c) => c.closed), 5000, 'every connection to close');
  expect(await target.hub.connectionCount()).toBe(0);
  expect(await target.hub.topicCount('shared')).toBe(0);
  expect((target.hub as Hub).topicNames()).toEqual([]);
  expect(heartbeatStats()).toEqual({ timers: 0, members: 0 });
  const reasons = new Set(target.connections.map((c) => c.closeReason));
  expect([...reasons].sort()).toEqual(['client', 'server']);

  // Sockets and timers back to where they were (the server sockets close a moment after the
  // streams: wait, bounded, for them).
  await waitFor(() => (activeResources()['TCPSocketWrap'] ?? 0) <= (before['TCPSocketWrap'] ?? 0), 5000, 'sockets to close');
  expect(activeResources()['Timeout'] ?? 0).toBeLessThanOrEqual(before['Timeout'] ?? 0);
  process.off('warning', onWarning);
  expect(processListeners()).toBe(listenersBefore);
  expect(warnings).toEqual([]);
}

test(`core handler: ${CYCLES} cycles leave nothing behind`, async () => {
  await churn(await coreTarget());
});

test.each(adapters.map((a) => [a.name, a] as const))(`%s: ${CYCLES} cycles leave nothing behind`, async (_name, adapter) => {
  const app = await adapter.start({ heartbeatMs: 1000, retryMs: 1000 }, async ({ sse, query }) => {
    const connection = await sse({ topics: query.getAll('topic') });
    if (query.has('close')) connection.close();
  });
  await churn({ url: `http://127.0.0.1:${app.port}`, hub: app.hub, connections: app.connections });
  expect(app.logs).toEqual([]);
});

/**
 * Graceful shutdown on each adapter (and the core handler with `closeServerAndStreams`): every
 * stream ends with a final `retry:` hint, the shutdown resolves, and no socket is left
 * hanging: not the streams, not an idle keep-alive connection, not a client that stopped
 * reading with bytes still queued for it.
 */
import * as http from 'node:http';
import { closeServerAndStreams, createSseHandler, type Broadcaster, type Connection } from '@ssekit/core';
import { heartbeatStats } from '@ssekit/core/integration';
import { connect, listen, rawRequest, track, waitFor, withTimeout, type SseClient } from '@ssekit/testkit';
import { adapters } from '@ssekit/testkit/adapters';

const SHUTDOWN_RETRY_MS = 2500;
const options = { shutdownRetryMs: SHUTDOWN_RETRY_MS, shutdownRetryJitterMs: 0, shutdownGraceMs: 500, heartbeatMs: 0, maxBufferedBytes: 256 * 1024 * 1024 };

interface Target {
  port: number;
  hub: Broadcaster;
  connections: Connection[];
  shutdown(): Promise<void>;
}

async function coreTarget(): Promise<Target> {
  const handler = createSseHandler(options);
  const connections: Connection[] = [];
  const server = http.createServer((req, res) => {
    if (!req.url?.startsWith('/events')) {
      res.writeHead(404).end();
      return;
    }
    handler.open(req, res, { topics: ['t'] }).then((c) => connections.push(c), () => res.destroy());
  });
  const { port } = await listen(server);
  return { port, hub: handler.hub, connections, shutdown: () => closeServerAndStreams(server, handler) };
}

/** An idle keep-alive connection: one finished request, socket kept open by the agent. */
async function idleKeepAlive(port: number): Promise<{ closed: Promise<void> }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  track(() => agent.destroy());
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/not-a-stream', agent }, (res) => {
      const closed = new Promise<void>((done) => req.socket!.once('close', () => done()));
      res.resume();
      res.on('end', () => resolve({ closed }));
    });
    req.on('error', reject);
  });
}

async function checkShutdown(target: Target): Promise<void> {
  const readers: SseClient[] = [];
  for (let i = 0; i < 4; i++) readers.push(await connect(`http://127.0.0.1:${target.port}/events`));

  // A client that stopped reading, with bytes still queued for it in user space.
  const stalled = rawRequest(target.port, 'GET /events HTTP/1.1\r\nHost: x\r\n\r\n');
  await waitFor(() => stalled.received().length > 0, 2000, 'the stalled client to open');
  stalled.socket.pause();
  await waitFor(() => target.connections.length === 5, 2000, 'five connections');
  const stalledConnection = target.connections[4]!;
  const chunk = 'x'.repeat(64 * 1024);
  for (let sent = 0; stalledConnection.bufferedBytes === 0 && sent < 256; sent++) {
    await target.hub.broadcastTo('t', { data: chunk });
    await new Promise((resolve) => setImmediate(resolve));
  }
  expect(stalledConnection.bufferedBytes).toBeGreaterThan(0);
  await Promise.all(readers.map((r) => waitFor(() => r.events.length === readers[0]!.events.length, 10_000, 'readers to catch up')));

  const idle = await idleKeepAlive(target.port);
  await withTimeout(target.shutdown(), 5000, 'the shutdown to resolve');

  for (const reader of readers) {
    await withTimeout(reader.closed, 2000, 'a stream to end');
    expect(reader.ended).toBe(true);
    expect(reader.retries.at(-1)).toBe(SHUTDOWN_RETRY_MS);
    expect(reader.text.endsWith(`retry: ${SHUTDOWN_RETRY_MS}\n\n`)).toBe(true);
  }
  await withTimeout(idle.closed, 2000, 'the idle keep-alive socket to close');
  // The server lets the stalled client go too: the only TCP socket left in this process is
  // that client's own end, and once it reads again it gets an end, not a hang.
  const tcpSockets = () => process.getActiveResourcesInfo().filter((kind) => kind === 'TCPSocketWrap').length;
  await waitFor(() => tcpSockets() === 1, 2000, 'the server to drop the stalled socket');
  stalled.socket.resume();
  await withTimeout(stalled.response, 5000, 'the stalled client socket to close');
  expect(target.connections.every((c) => c.closed)).toBe(true);
  expect(await target.hub.connectionCount()).toBe(0);
  expect(heartbeatStats()).toEqual({ timers: 0, members: 0 });

  // The server is gone: a new stream cannot even connect.
  await expect(connect(`http://127.0.0.1:${target.port}/events`)).rejects.toThrow(/ECONNREFUSED/);
}

/**
 * A client that is behind (bytes still queued for it in user space) but reading: the shutdown
 * must let those bytes and the final hint reach it, not cut the stream short.
 */
async function checkBehindClient(target: Target): Promise<void> {
  const behind = rawRequest(target.port, 'GET /events HTTP/1.1\r\nHost: x\r\n\r\n');
  await waitFor(() => behind.received().length > 0, 2000, 'the client to open');
  behind.socket.pause();
  await waitFor(() => target.connections.length === 1, 2000, 'the connection');
  const connection = target.connections[0]!;
  const chunk = 'y'.repeat(64 * 1024);
  for (let sent = 0; connection.bufferedBytes === 0 && sent < 256; sent++) {
    await target.hub.broadcastTo('t', { data: chunk });
    await new Promise((resolve) => setImmediate(resolve));
  }
  expect(connection.bufferedBytes).toBeGreaterThan(0);

  const shutdown = target.shutdown();
  behind.socket.resume();
  await withTimeout(shutdown, 5000, 'the shutdown to resolve');
  const text = (await withTimeout(behind.response, 5000, 'the stream to end')).toString('latin1');
  // The chunked body ends cleanly, and the last field is the hint.
  expect(text.endsWith('0\r\n\r\n')).toBe(true);
  expect(text).toContain(`retry: ${SHUTDOWN_RETRY_MS}\n\n`);
}

test('core handler with closeServerAndStreams', async () => {
  await checkShutdown(await coreTarget());
});

test('core handler: a client that is behind still gets its last bytes and the hint', async () => {
  await checkBehindClient(await coreTarget());
});

describe.each(adapters.map((a) => [a.name, a] as const))('%s', (_name, adapter) => {
  async function start(): Promise<Target> {
    const app = await adapter.start(options, async ({ sse }) => {
      await sse({ topics: ['t'] });
    });
    track(async () => {
      await app.close();
      expect(app.logs).toEqual([]);
    });
    return { port: app.port, hub: app.hub, connections: app.connections, shutdown: () => app.shutdown() };
  }

  test('every stream ends with the hint, no socket left', async () => {
    await checkShutdown(await start());
  });

  test('a client that is behind still gets its last bytes and the hint', async () => {
    await checkBehindClient(await start());
  });
});

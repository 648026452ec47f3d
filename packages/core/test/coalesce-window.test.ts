import { Hub, MemoryReplayer, SseConnection, SseOptionsError, createConnection, type Connection } from '@ssekit/core';
import { windowStats } from '../src/coalesce';
import { rawRequest } from '@ssekit/testkit';
import { Inbox, closeAll, handlerServer, recordingSink, startServer, track, waitFor } from './helpers';
import { streamRequest } from '@ssekit/harness/raw';

afterEach(closeAll);

/** The chunks of an HTTP/1.1 chunked body, one per `res.write`, as text (complete ones only). */
function chunksOf(raw: Buffer): string[] {
  let rest = raw.subarray(raw.indexOf('\r\n\r\n') + 4);
  const chunks: string[] = [];
  for (;;) {
    const eol = rest.indexOf('\r\n');
    if (eol === -1) break;
    const size = parseInt(rest.subarray(0, eol).toString(), 16);
    if (!(size > 0) || rest.length < eol + 2 + size + 2) break;
    chunks.push(rest.subarray(eol + 2, eol + 2 + size).toString('utf8'));
    rest = rest.subarray(eol + 2 + size + 2);
  }
  return chunks;
}

const dataOf = (chunks: string[]): string[] => [...chunks.join('').matchAll(/^data: (.*)$/gm)].map((m) => m[1]!);

/** Broadcasts `count` events, each in its own turn of the event loop (so ticks do not join them). */
async function spread(count: number, send: (i: number) => void): Promise<void> {
  for (let i = 0; i < count; i++) {
    send(i);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** A core server with one raw client; resolves with its connection and the client. */
async function oneClient(coalesceMs: number, extra: Record<string, unknown> = {}) {
  const { handler, opened, server } = await handlerServer({ heartbeatMs: 0, coalesceMs, ...extra });
  const raw = rawRequest(server.port, streamRequest('/'));
  const conn = await opened.next();
  await waitFor(() => raw.received().includes('\r\n\r\n'), 5000, 'response head');
  return { handler, conn, raw };
}

describe('coalesceMs', () => {
  it('events within the window leave in one write at its end', async () => {
    const windowMs = 200;
    const { handler, raw } = await oneClient(windowMs);
    const started = performance.now();
    await spread(10, (i) => handler.hub.broadcast({ data: `e${i}` }));
    await waitFor(() => dataOf(chunksOf(raw.received())).length === 10, 5000, 'ten events');
    const elapsed = performance.now() - started;
    const chunks = chunksOf(raw.received());
    expect(chunks).toHaveLength(1);
    expect(dataOf(chunks)).toEqual(Array.from({ length: 10 }, (_, i) => `e${i}`));
    // Held for the window, not longer than the window plus the machine's scheduling slack.
    expect(elapsed).toBeGreaterThanOrEqual(windowMs - 2);
    expect(elapsed).toBeLessThan(windowMs + 3000);
  });

  it('with 0 (the default), each turn of the event loop writes its own events', async () => {
    const { handler, raw } = await oneClient(0);
    await spread(10, (i) => handler.hub.broadcast({ data: `e${i}` }));
    await waitFor(() => dataOf(chunksOf(raw.received())).length === 10, 5000, 'ten events');
    expect(chunksOf(raw.received())).toHaveLength(10);
  });

  it('a burst at 20 ms leaves in one write, and the next burst in the next', async () => {
    const { handler, raw } = await oneClient(20);
    for (let i = 0; i < 10; i++) handler.hub.broadcast({ data: `a${i}` });
    await waitFor(() => dataOf(chunksOf(raw.received())).length === 10, 5000, 'first burst');
    for (let i = 0; i < 10; i++) handler.hub.broadcast({ data: `b${i}` });
    await waitFor(() => dataOf(chunksOf(raw.received())).length === 20, 5000, 'second burst');
    expect(chunksOf(raw.received())).toHaveLength(2);
  });

  it('sends and broadcasts keep their order within a window', async () => {
    const { handler, conn, raw } = await oneClient(100);
    handler.hub.broadcast({ data: 'b1' });
    await expect(conn.send({ data: 's1' })).resolves.toBe(true);
    handler.hub.broadcast({ data: 'b2' });
    await waitFor(() => dataOf(chunksOf(raw.received())).length === 3, 5000, 'three events');
    expect(dataOf(chunksOf(raw.received()))).toEqual(['b1', 's1', 'b2']);
    expect(chunksOf(raw.received())).toHaveLength(1);
  });

  it('close() during a window writes what is held before the end: nothing is lost', async () => {
    const { handler, conn, raw } = await oneClient(10_000);
    handler.hub.broadcast({ data: 'x' });
    handler.hub.broadcast({ data: 'y' });
    await conn.close({ retryMs: 50 });
    await waitFor(() => raw.received().includes('0\r\n\r\n'), 5000, 'end of the body');
    const all = raw.received().toString('utf8');
    expect(dataOf(chunksOf(raw.received()))).toEqual(['x', 'y']);
    expect(all.indexOf('retry: 50')).toBeGreaterThan(all.indexOf('data: y'));
    expect(all.endsWith('0\r\n\r\n')).toBe(true);
    expect(handler.hub.connectionCount()).toBe(0);
  });

  it('a shutdown during a window delivers what is held, then the retry hint', async () => {
    const { handler, raw } = await oneClient(10_000, { shutdownRetryMs: 777, shutdownRetryJitterMs: 0 });
    handler.hub.broadcast({ data: 'last' });
    await handler.close();
    await waitFor(() => raw.received().includes('0\r\n\r\n'), 5000, 'end of the body');
    const all = raw.received().toString('utf8');
    expect(all).toContain('data: last');
    expect(all.indexOf('retry: 777')).toBeGreaterThan(all.indexOf('data: last'));
  });

  it('a client that stops reading is still closed as slow, and the window lets it go', async () => {
    const maxBufferedBytes = 64 * 1024;
    const { handler, conn, raw } = await oneClient(20, { maxBufferedBytes, replayer: new MemoryReplayer(10_000) });
    raw.socket.pause();
    const payload = 'x'.repeat(4000);
    for (let i = 0; i < 2000 && !conn.closed; i++) {
      handler.hub.broadcast({ data: payload });
      if (i % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await waitFor(() => conn.closed, 10_000, 'slow close');
    expect(conn.closeReason).toBe('slow');
    expect(conn.bufferedBytes).toBe(0);
    expect(handler.hub.connectionCount()).toBe(0);
    await waitFor(() => windowStats().members === 0, 5000, 'window released');
  });

  it('on createConnection, and validated like every option', async () => {
    const opened = new Inbox<Connection>();
    const server = await startServer((req, res) => opened.push(createConnection(req, res, { heartbeatMs: 0, coalesceMs: 50 })));
    const raw = rawRequest(server.port, streamRequest('/'));
    const conn = await opened.next();
    track(() => conn.close());
    const hub = new Hub();
    hub.register(conn);
    hub.broadcast({ data: '1' });
    await new Promise((resolve) => setImmediate(resolve));
    hub.broadcast({ data: '2' });
    await waitFor(() => dataOf(chunksOf(raw.received())).length === 2, 5000, 'two events');
    expect(chunksOf(raw.received())).toHaveLength(1);
    expect(() => new SseConnection(recordingSink(() => {}), { coalesceMs: -1 })).toThrow(SseOptionsError);
    await expect(handlerServer({ coalesceMs: 1.5 })).rejects.toThrow(SseOptionsError);
  });
});

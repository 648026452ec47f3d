import * as http2 from 'node:http2';
import * as net from 'node:net';
import { createParser } from 'eventsource-parser';
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import {
  DefaultProvider,
  Hub,
  MemoryReplayer,
  SseClosedError,
  SseConnection,
  createConnection,
  createSseHandler,
  formatEvent,
  isClientDisconnected,
  type Connection,
  type ConnectionOptions,
  type NodeRequest,
  type NodeResponse,
  type Provider,
} from '@ssekit/core';
import { isProvider } from '../src/provider';
import { Inbox, closeAll, connect, connectH2, parseWire, startH2Server, startServer, track, withTimeout } from './helpers';

afterEach(closeAll);

/** A client that sends a GET, waits for the response head, then never reads again. */
async function stalledClient(port: number, path = '/'): Promise<{ socket: net.Socket; received: Buffer[] }> {
  const socket = net.connect(port, '127.0.0.1');
  track(() => socket.destroy());
  const received: Buffer[] = [];
  let stalled = false;
  await new Promise<void>((resolve, reject) => {
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      if (!stalled && Buffer.concat(received).includes('\r\n\r\n')) {
        stalled = true;
        socket.pause();
        resolve();
      }
    });
    socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n`);
  });
  socket.removeAllListeners('error');
  socket.on('error', () => {});
  return { socket, received };
}

/** The body of an HTTP/1.1 chunked response, as text (whatever complete chunks arrived). */
function dechunk(raw: Buffer): string {
  const head = raw.indexOf('\r\n\r\n');
  let rest = raw.subarray(head + 4);
  const parts: Buffer[] = [];
  for (;;) {
    const eol = rest.indexOf('\r\n');
    if (eol === -1) break;
    const size = parseInt(rest.subarray(0, eol).toString(), 16);
    if (!(size > 0) || rest.length < eol + 2 + size) break;
    parts.push(rest.subarray(eol + 2, eol + 2 + size));
    rest = rest.subarray(eol + 2 + size + 2);
  }
  return Buffer.concat(parts).toString('utf8');
}

describe('slow clients', () => {
  it('a client that stops reading is closed as slow; the fast one gets everything and the slow one catches up by replay', async () => {
    const maxBufferedBytes = 64 * 1024;
    const handler = createSseHandler({ replayer: new MemoryReplayer(20_000, 0, { prefix: 's' }), heartbeatMs: 0, maxBufferedBytes });
    track(() => handler.close());
    const opened = new Inbox<Connection>();
    const server = await startServer((req, res) => {
      handler.open(req, res).then((c) => opened.push(c));
    });
    const fast = await connect(server.url);
    const fastConn = await opened.next();
    const slow = await stalledClient(server.port);
    const slowConn = await opened.next();

    const payload = 'x'.repeat(4000);
    const eventBytes = formatEvent({ id: 's-99999', data: `99999:${payload}` }).length;
    let maxSeen = 0;
    let sent = 0;
    // Broadcast, one per turn of the event loop, until the slow client is dropped (bounded).
    while (!slowConn.closed && sent < 20_000) {
      sent++;
      handler.hub.broadcast({ data: `${sent}:${payload}` });
      maxSeen = Math.max(maxSeen, slowConn.bufferedBytes);
      // Never more than the limit plus one event (plus HTTP chunk framing).
      expect(slowConn.bufferedBytes).toBeLessThanOrEqual(maxBufferedBytes + eventBytes + 32);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(slowConn.closeReason).toBe('slow');
    expect(maxSeen).toBeGreaterThan(0);
    expect(handler.hub.connectionCount()).toBe(1);
    expect(fastConn.closed).toBe(false);
    for (let i = 0; i < 5; i++) handler.hub.broadcast({ data: `${++sent}:${payload}` });

    for (let i = 1; i <= sent; i++) {
      const event = await fast.nextEvent(5000);
      expect(event.data).toBe(`${i}:${payload}`);
    }

    // What reached the slow client is an in-order prefix; it resumes from its last id.
    slow.socket.resume();
    await withTimeout(new Promise((resolve) => slow.socket.on('close', resolve)), 2000, 'slow socket close');
    const got = parseWire(dechunk(Buffer.concat(slow.received))).events;
    got.forEach((event, i) => expect(event.data).toBe(`${i + 1}:${payload}`));
    const lastId = got.length > 0 ? got[got.length - 1]!.id : undefined;
    const again = await connect(server.url, lastId === undefined ? {} : { 'Last-Event-ID': lastId });
    for (let i = got.length + 1; i <= sent; i++) {
      const event = await again.nextEvent(5000);
      expect(event.data).toBe(`${i}:${payload}`);
    }
    expect((await opened.next()).replayGap).toBe(lastId === undefined);
  }, 20_000);

  it('send() on a connection past its limit resolves false, closed as slow', async () => {
    const conns = new Inbox<SseConnection>();
    const server = await startServer((req, res) => conns.push(createConnection(req, res, { heartbeatMs: 0, maxBufferedBytes: 32 * 1024 })));
    await stalledClient(server.port);
    const conn = await conns.next();
    const data = 'y'.repeat(8 * 1024);
    const results: Promise<boolean>[] = [];
    for (let i = 0; i < 10_000 && !conn.closed; i++) {
      // Not awaited: a caller that ignores backpressure is exactly what the limit is for.
      results.push(conn.send({ data }));
      expect(conn.bufferedBytes).toBeLessThanOrEqual(32 * 1024 + data.length + 64);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(conn.closeReason).toBe('slow');
    // The write that passed the limit, and every one still waiting for drain, resolve false.
    expect(await results[results.length - 1]).toBe(false);
    expect(await conn.send({ data })).toBe(false);
  }, 20_000);
});

describe('slow clients over HTTP/2', () => {
  it('a stream whose reader stalls is closed as slow, the other stream on the same session keeps going', async () => {
    const maxBufferedBytes = 32 * 1024;
    const hub = new Hub();
    const conns = new Inbox<SseConnection>();
    const server = await startH2Server((req, res) => {
      const conn = createConnection(req, res, { heartbeatMs: 0, maxBufferedBytes });
      hub.register(conn);
      conns.push(conn);
    });
    const session = http2.connect(server.url);
    track(() => session.destroy());
    const open = (): { stream: http2.ClientHttp2Stream; events: Inbox<string> } => {
      const stream = session.request({ ':path': '/' });
      const events = new Inbox<string>();
      const parser = createParser({ onEvent: (event) => events.push(event.data) });
      stream.setEncoding('utf8');
      stream.on('data', (text: string) => parser.feed(text));
      stream.on('error', () => {});
      return { stream, events };
    };
    const fast = open();
    const fastConn = await conns.next();
    const slow = open();
    const slowConn = await conns.next();
    slow.stream.pause();

    const payload = 'z'.repeat(2000);
    const eventBytes = formatEvent({ data: `99999:${payload}` }).length;
    let sent = 0;
    while (!slowConn.closed && sent < 20_000) {
      hub.broadcast({ data: `${++sent}:${payload}` });
      expect(slowConn.bufferedBytes).toBeLessThanOrEqual(maxBufferedBytes + eventBytes);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(slowConn.closeReason).toBe('slow');
    expect(fastConn.closed).toBe(false);
    expect(hub.connectionCount()).toBe(1);
    for (let i = 1; i <= sent; i++) expect(await fast.events.next(5000, `event ${i}`)).toBe(`${i}:${payload}`);
  }, 20_000);
});

describe('Provider', () => {
  it('DefaultProvider creates an SseConnection', async () => {
    const conns = new Inbox<Connection>();
    const provider = new DefaultProvider();
    expect(isProvider(provider)).toBe(true);
    expect(isProvider({})).toBe(false);
    const server = await startServer((req, res) => conns.push(provider.createConnection(req, res, { heartbeatMs: 0 })));
    const client = await connect(server.url);
    const conn = await conns.next();
    expect(conn).toBeInstanceOf(SseConnection);
    await conn.send({ data: 'hi' });
    expect((await client.nextEvent()).data).toBe('hi');
  });

  it('a custom provider is used by createSseHandler with the validated options', async () => {
    const seen: ConnectionOptions[] = [];
    class TaggingProvider implements Provider {
      async createConnection(req: NodeRequest, res: NodeResponse, options: ConnectionOptions): Promise<Connection> {
        seen.push(options);
        await Promise.resolve();
        return createConnection(req, res, { ...options, headers: { 'X-Tag': 'custom' } });
      }
    }
    const handler = createSseHandler({ provider: new TaggingProvider(), heartbeatMs: 0, retryMs: 100 });
    track(() => handler.close());
    const opened = new Inbox<Connection>();
    const server = await startServer((req, res) => {
      handler.open(req, res, { topics: ['t'] }).then((c) => opened.push(c));
    });
    const client = await connect(server.url, { 'Last-Event-ID': 'abc' });
    await opened.next();
    expect(client.headers['x-tag']).toBe('custom');
    expect(client.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(seen).toEqual([expect.objectContaining({ heartbeatMs: 0, retryMs: 100, lastEventId: 'abc' })]);
    expect(handler.hub.topicCount('t')).toBe(1);
    handler.hub.broadcastTo('t', { data: 'via provider' });
    expect(await client.nextRetry()).toBe(100);
    expect((await client.nextEvent()).data).toBe('via provider');
  });
});

describe('isClientDisconnected', () => {
  it('tells errors from a client that left apart from other failures', () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const pipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
    expect(isClientDisconnected(reset)).toBe(true);
    expect(isClientDisconnected(pipe)).toBe(true);
    expect(isClientDisconnected(new SseClosedError('client'))).toBe(true);
    expect(isClientDisconnected(new SseClosedError('server'))).toBe(false);
    expect(isClientDisconnected(new SseClosedError('slow'))).toBe(false);
    expect(isClientDisconnected(new Error('database down'))).toBe(false);
    expect(isClientDisconnected(undefined)).toBe(false);
    expect(isClientDisconnected('ECONNRESET')).toBe(false);
  });

  it('reports a request whose client left (HTTP/1.1)', async () => {
    const reqs = new Inbox<{ req: IncomingMessage; conn: SseConnection }>();
    const server = await startServer((req, res) => reqs.push({ req, conn: createConnection(req, res, { heartbeatMs: 0 }) }));
    const client = await connect(server.url);
    const { req, conn } = await reqs.next();
    expect(isClientDisconnected(req)).toBe(false);
    client.destroy();
    await withTimeout(conn.closedPromise(), 1000, 'close');
    expect(isClientDisconnected(req)).toBe(true);
  });

  it('reports a request whose client left (HTTP/2)', async () => {
    const reqs = new Inbox<{ req: Http2ServerRequest; conn: SseConnection }>();
    const server = await startH2Server((req, res) => reqs.push({ req, conn: createConnection(req, res, { heartbeatMs: 0 }) }));
    const client = await connectH2(server.url);
    const { req, conn } = await reqs.next();
    expect(isClientDisconnected(req)).toBe(false);
    client.destroy();
    await withTimeout(conn.closedPromise(), 1000, 'close');
    expect(isClientDisconnected(req)).toBe(true);
  });
});

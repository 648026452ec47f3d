import * as net from 'node:net';
import compression from 'compression';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { EventSource } from 'eventsource';
import {
  SseClosedError,
  type SseConnection,
  SseFormatError,
  SseOptionsError,
  SseWriter,
  createConnection,
  type CloseReason,
  type ConnectionOptions,
  type PipeItem,
} from '@ssekit/core';
import { heartbeatStats } from '@ssekit/core/integration';
import {
  Inbox,
  closeAll,
  connect,
  connectH2,
  deferred,
  startH2Server,
  startServer,
  track,
  withTimeout,
  type SseRecorder,
  type TestServer,
} from './helpers';

afterEach(closeAll);

type AnyReq = IncomingMessage | Http2ServerRequest;
type AnyRes = ServerResponse | Http2ServerResponse;

interface Transport {
  name: string;
  http2: boolean;
  /** Starts a server whose every request becomes a connection, pushed to `conns`. */
  serve(options?: ConnectionOptions, prepare?: (req: AnyReq, res: AnyRes) => void): Promise<{ server: TestServer; conns: Inbox<SseConnection> }>;
  open(server: TestServer, path?: string): Promise<SseRecorder>;
}

function handlerFor(conns: Inbox<SseConnection>, options?: ConnectionOptions, prepare?: (req: AnyReq, res: AnyRes) => void) {
  return (req: AnyReq, res: AnyRes): void => {
    prepare?.(req, res);
    conns.push(createConnection(req, res, options));
  };
}

const transports: Transport[] = [
  {
    name: 'HTTP/1.1',
    http2: false,
    async serve(options, prepare) {
      const conns = new Inbox<SseConnection>();
      const server = await startServer(handlerFor(conns, options, prepare));
      track(() => conns.items.forEach((c) => c.close()));
      return { server, conns };
    },
    open: (server, path = '/') => connect(server.url + path),
  },
  {
    name: 'HTTP/2 (h2c, compatibility API)',
    http2: true,
    async serve(options, prepare) {
      const conns = new Inbox<SseConnection>();
      const server = await startH2Server(handlerFor(conns, options, prepare));
      track(() => conns.items.forEach((c) => c.close()));
      return { server, conns };
    },
    open: (server, path = '/') => connectH2(server.url, path),
  },
];

describe.each(transports)('$name', (transport) => {
  it('sends the event-stream headers before the first event', async () => {
    const { server, conns } = await transport.serve({ heartbeatMs: 0 });
    const client = await transport.open(server);
    const conn = await conns.next();
    expect(client.status).toBe(200);
    expect(client.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(client.headers['cache-control']).toBe('no-cache, no-transform');
    expect(client.headers['x-accel-buffering']).toBe('no');
    expect(client.headers['connection']).toBe(transport.http2 ? undefined : 'keep-alive');
    // The headers arrived although nothing was sent yet.
    expect(client.text).toBe('');
    expect(conn.closed).toBe(false);
    expect(conn.closeReason).toBeUndefined();
  });

  it('extra headers are sent, but cannot replace the event-stream ones in any letter case', async () => {
    const headers = { 'content-type': 'text/plain', 'CACHE-CONTROL': 'max-age=60', 'x-accel-buffering': 'yes', connection: 'close', 'X-Custom': 'kept' };
    const { server } = await transport.serve({ heartbeatMs: 0, headers });
    const client = await transport.open(server);
    expect(client.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(client.headers['cache-control']).toBe('no-cache, no-transform');
    expect(client.headers['x-accel-buffering']).toBe('no');
    expect(client.headers['connection']).toBe(transport.http2 ? undefined : 'keep-alive');
    expect(client.headers['x-custom']).toBe('kept');
  });

  it('send, sendComment and setRetry reach the client in order', async () => {
    const { server, conns } = await transport.serve({ heartbeatMs: 0 });
    const client = await transport.open(server);
    const conn = await conns.next();
    expect(await conn.send({ id: '1', event: 'greeting', data: 'hello\nworld' })).toBe(true);
    expect(await conn.sendComment('note')).toBe(true);
    expect(await conn.setRetry(1234)).toBe(true);
    expect(await conn.send({ data: { n: 2 } })).toBe(true);
    expect(await client.nextEvent()).toEqual({ id: '1', event: 'greeting', data: 'hello\nworld' });
    expect(await client.nextComment()).toBe('note');
    expect(await client.nextRetry()).toBe(1234);
    expect(await client.nextEvent()).toEqual({ id: undefined, event: undefined, data: '{"n":2}' });
    await expect(conn.send({ id: 'a\nb' })).rejects.toBeInstanceOf(SseFormatError);
    await expect(conn.sendComment('\uD800')).rejects.toBeInstanceOf(SseFormatError);
    await expect(conn.setRetry(-1)).rejects.toBeInstanceOf(SseFormatError);
    expect(conn.closed).toBe(false);
  });

  it('sends retryMs at connect', async () => {
    const { server } = await transport.serve({ heartbeatMs: 0, retryMs: 2500 });
    const client = await transport.open(server);
    expect(await client.nextRetry()).toBe(2500);
    expect(client.text).toBe('retry: 2500\n\n');
  });

  it('heartbeats at the configured period on one shared timer', async () => {
    const { server, conns } = await transport.serve({ heartbeatMs: 40 });
    const started = Date.now();
    const a = await transport.open(server);
    const b = await transport.open(server);
    const connA = await conns.next();
    const connB = await conns.next();
    expect(heartbeatStats()).toEqual({ timers: 1, members: 2 });
    expect(await a.nextComment(1000)).toBe('');
    const first = Date.now() - started;
    expect(await a.nextComment(1000)).toBe('');
    const second = Date.now() - started;
    expect(await b.nextComment(1000)).toBe('');
    expect(first).toBeGreaterThanOrEqual(30);
    // Client-side arrival times: allow for delivery latency of the first one.
    expect(second - first).toBeGreaterThanOrEqual(20);
    expect(a.text).toMatch(/^(:\n)+$/);
    connA.close();
    expect(heartbeatStats()).toEqual({ timers: 1, members: 1 });
    b.destroy();
    await withTimeout(connB.closedPromise(), 1000, 'close of b');
    expect(heartbeatStats()).toEqual({ timers: 0, members: 0 });
  });

  it('close() is idempotent, ends the stream and reports `server` once', async () => {
    const { server, conns } = await transport.serve({ heartbeatMs: 50 });
    const client = await transport.open(server);
    const conn = await conns.next();
    const listener = jest.fn();
    conn.onClose(listener);
    const signal = conn.signal;
    conn.close({ retryMs: 777 });
    conn.close();
    conn.close({ retryMs: 1 });
    expect(conn.closed).toBe(true);
    expect(conn.closeReason).toBe('server');
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(SseClosedError);
    expect(listener).toHaveBeenCalledTimes(1);
    expect(listener).toHaveBeenCalledWith('server', conn);
    await withTimeout(client.ended, 1000, 'end of stream');
    expect(client.text).toBe('retry: 777\n\n');
    // Writing to a closed stream is not an error: it resolves false, and nothing is written.
    expect(await conn.send({ data: 'late' })).toBe(false);
    expect(await conn.sendComment()).toBe(false);
    expect(await conn.setRetry(5)).toBe(false);
    expect(await conn.pipe(['late'])).toBe(false);
    // Input that cannot be encoded still rejects, closed or not.
    await expect(conn.send({ event: 'a\nb' })).rejects.toBeInstanceOf(SseFormatError);
    expect(await conn.closedPromise()).toBe('server');
    const late = jest.fn();
    conn.onClose(late);
    expect(late).toHaveBeenCalledWith('server', conn);
    expect(heartbeatStats()).toEqual({ timers: 0, members: 0 });
  });

  it('a client that leaves closes the connection as `client` within 100 ms', async () => {
    const { server, conns } = await transport.serve({ heartbeatMs: 60_000 });
    const client = await transport.open(server);
    const conn = await conns.next();
    const listener = jest.fn();
    conn.onClose(listener);
    const removed = jest.fn();
    conn.onClose(removed);
    conn.offClose(removed);
    const aborted = deferred<unknown>();
    conn.signal.addEventListener('abort', () => aborted.resolve(conn.signal.reason));
    client.destroy();
    expect(await withTimeout(conn.closedPromise(), 100, 'close after disconnect')).toBe('client');
    expect(await withTimeout(aborted.promise, 100, 'abort')).toBeInstanceOf(SseClosedError);
    expect(listener).toHaveBeenCalledTimes(1);
    expect(listener).toHaveBeenCalledWith('client', conn);
    expect(removed).not.toHaveBeenCalled();
    expect(await conn.send({ data: 'x' })).toBe(false);
    expect(conn.bufferedBytes).toBe(0);
    expect(heartbeatStats()).toEqual({ timers: 0, members: 0 });
  });

  it('calls flush() after writes when the response has one', async () => {
    const flushes = { count: 0 };
    const { server, conns } = await transport.serve({ heartbeatMs: 0 }, (_req, res) => {
      (res as unknown as { flush: () => void }).flush = () => flushes.count++;
    });
    const client = await transport.open(server);
    const conn = await conns.next();
    const afterOpen = flushes.count;
    expect(afterOpen).toBeGreaterThanOrEqual(1);
    await conn.send({ data: 'x' });
    expect(flushes.count).toBeGreaterThan(afterOpen);
    const beforeComment = flushes.count;
    await conn.sendComment('c');
    expect(flushes.count).toBeGreaterThan(beforeComment);
    expect(await client.nextEvent()).toEqual(expect.objectContaining({ data: 'x' }));
  });

  it('pipe() sends an async generator with backpressure', async () => {
    const { server, conns } = await transport.serve({ heartbeatMs: 0, maxBufferedBytes: 8 * 1024 * 1024 });
    const client = await transport.open(server);
    const conn = await conns.next();
    const chunk = 'x'.repeat(32 * 1024);
    const items = 100;
    const bufferedAtPull: number[] = [];
    let finished = false;
    async function* source(): AsyncGenerator<PipeItem> {
      try {
        for (let i = 0; i < items; i++) {
          bufferedAtPull.push(conn.bufferedBytes);
          yield i % 2 === 0 ? `${i}:${chunk}` : { id: String(i), data: `${i}:${chunk}` };
        }
      } finally {
        finished = true;
      }
    }
    expect(await conn.pipe(source())).toBe(true);
    expect(finished).toBe(true);
    for (let i = 0; i < items; i++) {
      const event = await client.nextEvent(5000);
      expect(event.data).toBe(`${i}:${chunk}`);
    }
    // Each item was pulled only once the transport had room: the buffer never held more
    // than the high-water mark plus one item.
    expect(Math.max(...bufferedAtPull)).toBeLessThanOrEqual(64 * 1024 + chunk.length + 64);
    expect(conn.closed).toBe(false);
  });

  it('pipe() stops the generator (finally runs) when the client leaves while it waits', async () => {
    const { server, conns } = await transport.serve({ heartbeatMs: 0 });
    const client = await transport.open(server);
    const conn = await conns.next();
    const gate = deferred();
    const finallyRan = deferred();
    let produced = 0;
    async function* source(): AsyncGenerator<string> {
      try {
        yield 'first';
        produced++;
        await gate.promise; // waiting for a value that comes after the client left
        yield 'never sent';
        produced++;
      } finally {
        finallyRan.resolve();
      }
    }
    const piping = conn.pipe(source());
    expect((await client.nextEvent()).data).toBe('first');
    client.destroy();
    expect(await withTimeout(piping, 1000, 'pipe to return after disconnect')).toBe(false);
    expect(conn.closeReason).toBe('client');
    gate.resolve();
    await withTimeout(finallyRan.promise, 1000, 'the generator finally block');
    expect(produced).toBe(1);
  });

  it('pipe() source waiting on connection.signal is released at once', async () => {
    const { server, conns } = await transport.serve({ heartbeatMs: 0 });
    const client = await transport.open(server);
    const conn = await conns.next();
    const finallyRan = deferred();
    async function* source(signal: AbortSignal): AsyncGenerator<string> {
      try {
        yield 'only';
        // A source that waits for work, and stops waiting when the client goes.
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        yield 'after abort';
      } finally {
        finallyRan.resolve();
      }
    }
    const piping = conn.pipe(source(conn.signal));
    expect((await client.nextEvent()).data).toBe('only');
    client.destroy();
    await withTimeout(Promise.all([piping, finallyRan.promise]), 1000, 'pipe and finally');
  });

  it('pipe() rejects when the source throws or yields an unencodable event, and stops the source', async () => {
    const { server, conns } = await transport.serve({ heartbeatMs: 0 });
    const client = await transport.open(server);
    const conn = await conns.next();
    await expect(
      conn.pipe(
        (async function* () {
          yield 'ok';
          throw new Error('source failed');
        })(),
      ),
    ).rejects.toThrow('source failed');
    let stopped = false;
    await expect(
      conn.pipe(
        (function* () {
          try {
            yield { event: 'bad\nname', data: 'x' };
            yield 'not reached';
          } finally {
            stopped = true;
          }
        })(),
      ),
    ).rejects.toBeInstanceOf(SseFormatError);
    expect(stopped).toBe(true);
    expect(conn.closed).toBe(false);
    await conn.send({ data: 'still open' });
    expect((await client.nextEvent()).data).toBe('ok');
    expect((await client.nextEvent()).data).toBe('still open');
  });

  it('pipe() resolves when the client leaves, even if the source then fails', async () => {
    const { server, conns } = await transport.serve({ heartbeatMs: 0 });
    const client = await transport.open(server);
    const conn = await conns.next();
    const failed = deferred();
    async function* source(signal: AbortSignal): AsyncGenerator<string> {
      yield 'one';
      try {
        // Work that stops with the client, as fetch(url, { signal }) does: it rejects.
        await new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
      } finally {
        failed.resolve();
      }
      yield 'unreachable';
    }
    const piping = conn.pipe(source(conn.signal));
    expect((await client.nextEvent()).data).toBe('one');
    client.destroy();
    expect(await withTimeout(piping, 1000, 'pipe to resolve')).toBe(false);
    await withTimeout(failed.promise, 1000, 'the source to stop');
  });

  it('pipe() of a sync iterable resolves when it ends', async () => {
    const { server, conns } = await transport.serve({ heartbeatMs: 0 });
    const client = await transport.open(server);
    const conn = await conns.next();
    expect(await conn.pipe(['a', { event: 'b', data: 'B' }])).toBe(true);
    expect(await client.nextEvent()).toEqual(expect.objectContaining({ data: 'a' }));
    expect(await client.nextEvent()).toEqual(expect.objectContaining({ event: 'b', data: 'B' }));
  });
});

describe('Last-Event-ID', () => {
  async function lastIdFromRaw(headerBytes: Buffer, path = '/'): Promise<string | undefined> {
    const conns = new Inbox<SseConnection>();
    const server = await startServer((req, res) => conns.push(createConnection(req, res, { heartbeatMs: 0 })));
    const socket = net.connect(server.port, '127.0.0.1');
    track(() => socket.destroy());
    socket.write(Buffer.concat([Buffer.from(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n`), headerBytes, Buffer.from('\r\n')]));
    const conn = await conns.next();
    conn.close();
    return conn.lastEventId;
  }

  it('decodes raw UTF-8 header bytes (which Node reads as latin1) back to UTF-8', async () => {
    const id = 'é-中-🎉-42';
    expect(await lastIdFromRaw(Buffer.concat([Buffer.from('Last-Event-ID: '), Buffer.from(id, 'utf8'), Buffer.from('\r\n')]))).toBe(id);
  });

  it('keeps a latin1 reading when the bytes are not UTF-8', async () => {
    expect(await lastIdFromRaw(Buffer.from('Last-Event-ID: caf\xe9\r\n', 'latin1'))).toBe('café');
  });

  it('reads the lastEventId query parameter when the header is absent', async () => {
    expect(await lastIdFromRaw(Buffer.alloc(0), `/?x=1&lastEventId=${encodeURIComponent('é-7')}`)).toBe('é-7');
    expect(await lastIdFromRaw(Buffer.alloc(0), '/')).toBeUndefined();
  });

  it('decodes raw UTF-8 bytes sent over HTTP/2 as well', async () => {
    const conns = new Inbox<SseConnection>();
    const server = await startH2Server((req, res) => conns.push(createConnection(req, res, { heartbeatMs: 0 })));
    const id = 'ü-🎉-3';
    // The client puts the UTF-8 bytes on the wire; the server reads them back as latin1.
    await connectH2(server.url, '/', { 'last-event-id': Buffer.from(id, 'utf8').toString('latin1') });
    const conn = await conns.next();
    expect(conn.lastEventId).toBe(id);
  });

  it('an empty id means no id', async () => {
    expect(await lastIdFromRaw(Buffer.alloc(0), '/?lastEventId=')).toBeUndefined();
    expect(await lastIdFromRaw(Buffer.from('Last-Event-ID: \r\n'))).toBeUndefined();
  });

  it('an EventSource sends back the last id it saw when it reconnects', async () => {
    const conns = new Inbox<SseConnection>();
    const server = await startServer((req, res) => conns.push(createConnection(req, res, { heartbeatMs: 0, retryMs: 10 })));
    const source = new EventSource(server.url);
    track(() => source.close());
    const got = deferred();
    source.onmessage = () => got.resolve();
    const first = await conns.next();
    await first.send({ id: 'ü-1', data: 'x' });
    await withTimeout(got.promise, 1000, 'message');
    first.close();
    const second = await conns.next(3000);
    expect(second.lastEventId).toBe('ü-1');
  });
});

describe('createConnection', () => {
  it('rejects invalid options before writing anything', async () => {
    const server = await startServer((req, res) => {
      for (const options of [{ heartbeatMs: -1 }, { retryMs: 1.5 }, { maxBufferedBytes: 0 }, { heartbeatMs: NaN }]) {
        expect(() => createConnection(req, res, options)).toThrow(SseOptionsError);
      }
      expect(res.headersSent).toBe(false);
      res.end('checked');
    });
    const client = await connect(server.url);
    expect(client.status).toBe(200);
    await client.ended;
    expect(client.text).toBe('checked');
  });

  it('a request whose client is already gone gives a closed connection', async () => {
    const reasons = new Inbox<CloseReason | undefined>();
    const server = await startServer((req, res) => {
      req.socket.destroy();
      const conn = createConnection(req, res, { heartbeatMs: 10 });
      reasons.push(conn.closeReason);
      expect(conn.signal.aborted).toBe(true);
    });
    await expect(connect(server.url)).rejects.toThrow();
    expect(await reasons.next()).toBe('client');
    expect(heartbeatStats()).toEqual({ timers: 0, members: 0 });
  });
});

describe('behind compression middleware', () => {
  it('each event reaches the client at once (no-transform keeps gzip off the stream)', async () => {
    const compressor = compression({ threshold: 0 });
    const conns = new Inbox<SseConnection>();
    const flushed = { count: 0 };
    const server = await startServer((req, res) => {
      compressor(req as never, res as never, () => {
        const flush = (res as unknown as { flush: () => void }).flush.bind(res);
        (res as unknown as { flush: () => void }).flush = () => {
          flushed.count++;
          flush();
        };
        conns.push(createConnection(req, res, { heartbeatMs: 0 }));
      });
    });
    const client = await connect(server.url, { 'Accept-Encoding': 'gzip' });
    const conn = await conns.next();
    expect(client.headers['content-encoding']).toBeUndefined();
    expect(client.headers['cache-control']).toBe('no-cache, no-transform');
    await conn.send({ data: 'first' });
    expect((await client.nextEvent(1000)).data).toBe('first');
    await conn.send({ data: 'second' });
    expect((await client.nextEvent(1000)).data).toBe('second');
    expect(flushed.count).toBeGreaterThanOrEqual(3);
  });
});

describe('SseWriter', () => {
  it('writes the headers, events and comments, and ends', async () => {
    const server = await startServer((req, res) => {
      const writer = new SseWriter({ req, res });
      writer.writeHead({ 'X-Extra': '1', 'Content-Type': 'text/plain' });
      expect(writer.writeEvent({ id: '1', data: 'a\nb' })).toBe(true);
      writer.writeComment('c');
      expect(() => writer.writeEvent({ event: 'x\ny' })).toThrow(SseFormatError);
      writer.end();
    });
    const client = await connect(server.url);
    expect(client.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(client.headers['x-extra']).toBe('1');
    await withTimeout(client.ended, 1000, 'end');
    expect(client.text).toBe('id: 1\ndata: a\ndata: b\n\n: c\n');
  });
});

describe('backpressure and heartbeats', () => {
  it('a send waiting for drain resolves false when the connection closes', async () => {
    const conns = new Inbox<SseConnection>();
    const server = await startServer((req, res) => conns.push(createConnection(req, res, { heartbeatMs: 0, maxBufferedBytes: 64 * 1024 * 1024 })));
    const socket = net.connect(server.port, '127.0.0.1');
    track(() => socket.destroy());
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    socket.pause(); // never reads
    const conn = await conns.next();
    const data = 'w'.repeat(64 * 1024);
    let pending: Promise<boolean> | undefined;
    for (let i = 0; i < 2000 && pending === undefined; i++) {
      const sent = conn.send({ data });
      // A send that is still pending after a turn of the event loop is waiting for drain.
      const state = await Promise.race([sent.then(() => 'done'), new Promise((resolve) => setImmediate(resolve, 'waiting'))]);
      if (state === 'waiting') pending = sent;
    }
    expect(pending).toBeDefined();
    const closing = conn.close({ graceMs: 50 });
    expect(await pending).toBe(false);
    // The client never reads, so its bytes cannot all leave: close() resolves because the
    // grace period ran out and the client was dropped.
    await withTimeout(closing, 2000, 'close() to resolve after its grace period');
    await withTimeout(conn.close(), 100, 'a second close() of a finished stream');
  });

  it('close() resolves once the last bytes have reached a client that reads', async () => {
    const conns = new Inbox<SseConnection>();
    const server = await startServer((req, res) => conns.push(createConnection(req, res, { heartbeatMs: 0 })));
    const client = await connect(server.url);
    const conn = await conns.next();
    await conn.send({ data: 'last words' });
    await withTimeout(conn.close({ retryMs: 10 }), 1000, 'close() to resolve');
    await withTimeout(client.ended, 1000, 'the end of the stream');
    expect(client.text).toBe('data: last words\n\nretry: 10\n\n');
  });

  it('skips the heartbeat of a connection that sent something during the period', async () => {
    const conns = new Inbox<SseConnection>();
    // A period long against the 5 ms writes, so that a loaded machine does not leave the busy
    // stream a whole period without a write.
    const server = await startServer((req, res) => conns.push(createConnection(req, res, { heartbeatMs: 400 })));
    const busy = await connect(server.url);
    const busyConn = await conns.next();
    const idle = await connect(server.url);
    await conns.next();
    let n = 0;
    // Keep the busy one writing far more often than the period until the idle one got 2 heartbeats.
    const timer = setInterval(() => void busyConn.send({ data: String(++n) }).catch(() => {}), 5);
    try {
      for (let i = 0; i < 2; i++) expect(await idle.nextComment(3000)).toBe('');
    } finally {
      clearInterval(timer);
    }
    expect(busy.comments.items).toEqual([]);
    expect(busy.events.items.length).toBeGreaterThan(0);
  });
});

/**
 * The test kit itself: a recorder that waits wrongly, or a registry that leaves servers open,
 * would make every other suite lie or hang.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import * as zlib from 'node:zlib';
import { connect, connectH2, connectStalled, fetchPlain, rawRequest, rawWaitFor, startH2Server, startServer, track, type TestServer } from '@ssekit/testkit';

/** Writes `chunks` as an event stream, each after the previous one was flushed; then ends, or not. */
function streaming(chunks: string[], { end = true, gzip = false } = {}) {
  return (_req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void => {
    const headers: Record<string, string> = { 'content-type': 'text/event-stream' };
    if (gzip) headers['content-encoding'] = 'gzip';
    res.writeHead(200, headers);
    if ('flushHeaders' in res) res.flushHeaders();
    const out = gzip ? zlib.createGzip({ flush: zlib.constants.Z_SYNC_FLUSH }) : undefined;
    if (out) out.pipe(res as NodeJS.WritableStream);
    const sink = (out ?? res) as NodeJS.WritableStream;
    let i = 0;
    const next = (): void => {
      if (i < chunks.length) {
        sink.write(chunks[i++]!);
        setTimeout(next, 5);
      } else if (end) sink.end();
    };
    next();
  };
}

describe('the cleanup registry', () => {
  let fileServer: TestServer;
  let testServer: TestServer | undefined;
  beforeAll(async () => {
    fileServer = await startServer((_req, res) => res.end('file'));
  });

  test('a server a test starts is closed after it (this one)', async () => {
    testServer = await startServer((_req, res) => res.end('test'));
    expect(testServer.server.listening).toBe(true);
  });

  test('... and is gone in the next test, while the one from beforeAll still serves', async () => {
    expect(testServer!.server.listening).toBe(false);
    expect((await fetchPlain(fileServer.url)).body).toBe('file');
  });

  test('cleanups run newest first (and an assertion in one counts)', async () => {
    const order: number[] = [];
    track(() => expect(order).toEqual([2, 1]));
    track(() => order.push(1));
    track(() => order.push(2));
  });
});

describe('the recording client', () => {
  test('records events, comments and retry fields, and the body text', async () => {
    const server = await startServer(streaming([': hi\n\n', 'retry: 250\nid: 1\ndata: a\n\n', 'event: e\ndata: b\n\n']));
    const client = await connect(server.url);
    expect(client.status).toBe(200);
    // eventsource-parser drops the space after the colon, as it does for field values.
    expect(await client.nextComment()).toBe('hi');
    expect(await client.take(2)).toEqual([
      { id: '1', event: undefined, data: 'a' },
      { id: undefined, event: 'e', data: 'b' },
    ]);
    expect(await client.nextRetry()).toBe(250);
    await client.waitEnd();
    expect(client.ended).toBe(true);
    expect(client.open).toBe(false);
    expect(client.text).toBe(': hi\n\nretry: 250\nid: 1\ndata: a\n\nevent: e\ndata: b\n\n');
    expect(client.bytes).toHaveLength(0);
  });

  test('fails at once, not at the timeout, when the stream ends short', async () => {
    const server = await startServer(streaming(['data: only\n\n']));
    const client = await connect(server.url);
    const began = Date.now();
    await expect(client.take(2, 10_000)).rejects.toThrow(/the stream ended before 2 more events \(got 1 events/);
    await expect(client.next(10_000)).resolves.toMatchObject({ data: 'only' });
    await expect(client.next(10_000)).rejects.toThrow(/ended before the next event/);
    expect(Date.now() - began).toBeLessThan(5000);
  });

  test('times out with what it got so far while the stream stays open', async () => {
    const server = await startServer(streaming(['data: one\n\n'], { end: false }));
    const client = await connect(server.url);
    await client.next();
    await expect(client.next(50)).rejects.toThrow(/timed out after 50 ms waiting for the next event \(got 1 events/);
    expect(client.open).toBe(true);
  });

  test('waitFor finds an event that arrived before the call; waitForEvents returns them all', async () => {
    const server = await startServer(streaming(['data: 1\n\n', 'data: 2\n\n', 'data: 3\n\n']));
    const client = await connect(server.url);
    await client.waitForEvents(3);
    expect((await client.waitFor((e) => e.data === '1')).data).toBe('1');
    expect((await client.waitForEvents(2)).map((e) => e.data)).toEqual(['1', '2', '3']);
    expect(client.rest()).toHaveLength(3);
  });

  test.each([
    ['HTTP/1.1', false],
    ['HTTP/2', true],
  ])('decompresses a gzip body as it streams, over %s', async (_name, h2) => {
    const handler = streaming(['data: zipped\n\n', 'data: again\n\n'], { end: false, gzip: true });
    const server = h2 ? await startH2Server(handler) : await startServer(handler);
    const client = h2 ? await connectH2(server.url, '/', {}, { raw: true }) : await connect(server.url, {}, { raw: true });
    expect(client.headers['content-encoding']).toBe('gzip');
    expect((await client.take(2)).map((e) => e.data)).toEqual(['zipped', 'again']);
    expect(client.bytes.toString('utf8')).toBe('data: zipped\n\ndata: again\n\n');
  });

  test('an aborted gzip stream still closes the recording, with what was inflated', async () => {
    const server = await startServer((req, res) => {
      streaming(['data: before\n\n'], { end: false, gzip: true })(req, res);
      setTimeout(() => res.destroy(), 50);
    });
    const client = await connect(server.url);
    await client.waitEnd();
    expect(client.ended).toBe(false);
    expect(client.events.map((e) => e.data)).toEqual(['before']);
  });

  test('sends the headers it is given, and close() drops the connection', async () => {
    let seen: IncomingMessage | undefined;
    const server = await startServer((req, res) => {
      seen = req;
      streaming([], { end: false })(req, res);
    });
    const client = await connect(`${server.url}/events`, { 'last-event-id': 'x-1' });
    expect(seen!.headers['last-event-id']).toBe('x-1');
    expect(seen!.headers['accept']).toBe('text/event-stream');
    const gone = new Promise<void>((resolve) => seen!.socket.once('close', () => resolve()));
    client.close();
    await gone;
    await client.waitEnd();
  });
});

test('raw requests and stalled clients', async () => {
  let stalledResponse: ServerResponse | undefined;
  const server = await startServer((req, res) => {
    if (req.url === '/stalled') stalledResponse = res;
    streaming(['data: raw\n\n'], { end: req.url !== '/stalled' })(req, res);
  });
  const raw = rawRequest(server.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  expect(await rawWaitFor(raw, 'data: raw')).toMatch(/^HTTP\/1\.1 200 /);
  expect((await raw.response).toString('latin1')).toContain('data: raw');

  const stalled = await connectStalled(`${server.url}/stalled`);
  // The stalled client reads nothing, so the server's writes back up in the end.
  const big = 'x'.repeat(64 * 1024);
  let writes = 0;
  while (stalledResponse === undefined || (stalledResponse.write(`data: ${big}\n\n`) && writes < 10_000)) {
    writes++;
    await new Promise((resolve) => setImmediate(resolve));
  }
  expect(stalledResponse!.writableNeedDrain).toBe(true);
  stalled.reset();
});

/**
 * `fetchSse()` in process, on Node's own Request/Response: the Response it builds, each way a
 * stream ends (abort, cancel, a rejected write, close) and what happens to options and errors.
 * The same behaviours over the wire on every runtime are in contract.test.ts.
 */
import { memoryMetrics } from '@ssekit/testkit/metrics';
import { fetchSse, MemoryReplayer, SseHttpError, SseOptionsError, type Connection, type FetchSse, type FetchSseOptions, type Hub } from '@ssekit/fetch';

const decoder = new TextDecoder();

/** Reads the next chunk of a body as text, bounded. */
async function readText(reader: ReadableStreamDefaultReader<Uint8Array>, ms = 1000): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no chunk within ${ms} ms`)), ms);
  });
  try {
    const { value, done } = await Promise.race([reader.read(), late]);
    return done ? '<end>' : decoder.decode(value);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves with the connection passed to `onOpen`. */
function opened(): { onOpen: (c: Connection) => void; connection: Promise<Connection> } {
  let onOpen!: (c: Connection) => void;
  const connection = new Promise<Connection>((resolve) => (onOpen = resolve));
  return { onOpen, connection };
}

const streams: FetchSse<Hub>[] = [];
afterEach(async () => {
  for (const sse of streams.splice(0)) await sse.close();
});

function make(options: Omit<FetchSseOptions, 'hub'> = {}): FetchSse<Hub> {
  const sse = fetchSse(options);
  streams.push(sse);
  return sse;
}

test('answers 200 with the event-stream headers and no Connection or Transfer-Encoding header', async () => {
  const sse = make({ headers: { 'X-Extra': '1', Connection: 'keep-alive', 'Transfer-Encoding': 'chunked' } });
  const response = await sse.response(new Request('http://x/events'));
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
  expect(response.headers.get('cache-control')).toBe('no-cache, no-transform');
  expect(response.headers.get('x-extra')).toBe('1');
  expect(response.headers.has('connection')).toBe(false);
  expect(response.headers.has('transfer-encoding')).toBe(false);
  const reader = response.body!.getReader();
  expect(await readText(reader)).toBe(':\n');
  await reader.cancel();
});

test('resolves the Response before replay has been read, and runs onOpen after it', async () => {
  const replayer = new MemoryReplayer(100);
  const sse = make({ replayer });
  const first = sse.hub.broadcast({ data: 'one' })!;
  sse.hub.broadcast({ data: 'two' });
  const { onOpen, connection } = opened();
  const response = await sse.response(new Request('http://x/events', { headers: { 'Last-Event-ID': first.id! } }), {}, onOpen);
  const reader = response.body!.getReader();
  let text = '';
  while (!text.includes('two')) text += await readText(reader);
  const conn = await connection;
  expect(conn.lastEventId).toBe(first.id);
  expect(text).not.toContain('one');
  await reader.cancel();
});

test.each([
  ['the request signal aborts', async (ctl: AbortController, body: ReadableStream<Uint8Array>) => {
    void body;
    ctl.abort();
  }],
  ['the body is cancelled', async (_: AbortController, body: ReadableStream<Uint8Array>) => {
    await body.cancel();
  }],
])('closes the connection everywhere when %s', async (_, leave) => {
  const sse = make();
  const ctl = new AbortController();
  const { onOpen, connection } = opened();
  const response = await sse.response(new Request('http://x/events', { signal: ctl.signal }), { topics: ['t'] }, onOpen);
  const conn = await connection;
  expect([sse.connectionCount(), sse.hub.connectionCount(), sse.hub.topicCount('t')]).toEqual([1, 1, 1]);
  await leave(ctl, response.body!);
  expect(await conn.closedPromise()).toBe('client');
  expect(conn.signal.aborted).toBe(true);
  expect([sse.connectionCount(), sse.hub.connectionCount(), sse.hub.topicCount('t')]).toEqual([0, 0, 0]);
  expect(await conn.send({ data: 'late' })).toBe(false);
});

test('a write that waits for the reader resolves once it reads (pull-based backpressure)', async () => {
  const sse = make({ maxBufferedBytes: 4 * 1024 * 1024 });
  const { onOpen, connection } = opened();
  const response = await sse.response(new Request('http://x/events'), {}, onOpen);
  const conn = await connection;
  const big = 'x'.repeat(70 * 1024);
  let settled = false;
  const sent = conn.send({ data: big }).then(() => (settled = true));
  await new Promise((done) => setTimeout(done, 20));
  expect(settled).toBe(false);
  expect(conn.bufferedBytes).toBeGreaterThan(64 * 1024);
  const reader = response.body!.getReader();
  while (!settled) await readText(reader);
  await sent;
  await reader.cancel();
});

test('a client that does not read is closed as slow once its queue passes maxBufferedBytes', async () => {
  const sse = make({ maxBufferedBytes: 100_000 });
  const { onOpen, connection } = opened();
  await sse.response(new Request('http://x/events'), {}, onOpen);
  const conn = await connection;
  for (let i = 0; i < 20 && !conn.closed; i++) sse.hub.broadcast({ data: 'y'.repeat(10_000) });
  expect(conn.closeReason).toBe('slow');
  expect(sse.hub.connectionCount()).toBe(0);
});

test("a slow client's backlog is dropped and its body ends after what the stream held, without an error", async () => {
  const sse = make({ maxBufferedBytes: 200_000 });
  const { onOpen, connection } = opened();
  const response = await sse.response(new Request('http://x/events'), {}, onOpen);
  const conn = await connection;
  let sent = 0;
  while (!conn.closed) {
    sse.hub.broadcast({ data: 'z'.repeat(10_000) });
    sent++;
  }
  expect(conn.closeReason).toBe('slow');
  const reader = response.body!.getReader();
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    received += value.byteLength;
  }
  // The stream's own queue (64 KiB and one event) still arrives; the backlog past it is gone.
  expect(sent * 10_000).toBeGreaterThan(190_000);
  expect(received).toBeLessThan(64 * 1024 + 2 * 10_010);
});

test.each([
  [400, {}, { topics: [''] }],
  [403, { authorize: () => false }, {}],
])('refuses with a plain %i Response', async (status, options, open) => {
  const sse = make(options);
  const response = await sse.response(new Request('http://x/events'), open);
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toBe('text/plain; charset=utf-8');
  expect(sse.hub.connectionCount()).toBe(0);
});

test('answers 429 and 503 with Retry-After, by the ip passed in', async () => {
  const sse = make({ maxConnections: 2, maxConnectionsPerIp: 1 });
  await sse.response(new Request('http://x/events'), { ip: '1.1.1.1' });
  const perIp = await sse.response(new Request('http://x/events'), { ip: '1.1.1.1' });
  expect([perIp.status, perIp.headers.get('retry-after')]).toEqual([429, '5']);
  await sse.response(new Request('http://x/events'), { ip: '2.2.2.2' });
  const full = await sse.response(new Request('http://x/events'), { ip: '3.3.3.3' });
  expect([full.status, full.headers.get('retry-after')]).toEqual([503, '5']);
});

test('an SseHttpError thrown by authorize keeps its status; any other error is a 500', async () => {
  const unauthorized = make({ authorize: () => { throw new SseHttpError(401, 'log in', { 'WWW-Authenticate': 'Bearer' }); } });
  const a = await unauthorized.response(new Request('http://x/events'));
  expect([a.status, a.headers.get('www-authenticate')]).toEqual([401, 'Bearer']);
  const broken = make({ authorize: async () => { throw new Error('db down'); } });
  const b = await broken.response(new Request('http://x/events'));
  expect(b.status).toBe(500);
  expect(await b.text()).not.toContain('db down');
});

test('rejects unknown and invalid options with SseOptionsError naming the key', () => {
  expect(() => fetchSse({ heartbeatMS: 5 } as never)).toThrow(SseOptionsError);
  expect(() => fetchSse({ heartbeatMS: 5 } as never)).toThrow(/heartbeatMS/);
  expect(() => fetchSse({ provider: {} } as never)).toThrow(/provider/);
  expect(() => fetchSse({ maxBufferedBytes: -1 })).toThrow(SseOptionsError);
});

test('close() ends open streams with the retry hint last and refuses new ones with 503', async () => {
  const sse = fetchSse({ shutdownRetryMs: 1234, shutdownRetryJitterMs: 0 });
  const response = await sse.response(new Request('http://x/events'));
  await sse.close();
  expect(sse.connectionCount()).toBe(0);
  const text = await response.text();
  expect(text.endsWith('retry: 1234\n\n')).toBe(true);
  expect((await sse.response(new Request('http://x/events'))).status).toBe(503);
});

test('a stream whose onOpen throws is closed', async () => {
  const sse = make();
  const errors: unknown[] = [];
  const original = queueMicrotask;
  const spy = jest.spyOn(globalThis, 'queueMicrotask').mockImplementation((fn) =>
    original(() => {
      try {
        fn();
      } catch (error) {
        errors.push(error);
      }
    }),
  );
  try {
    const response = await sse.response(new Request('http://x/events'), {}, () => {
      throw new Error('app bug');
    });
    expect(await response.text()).toBe(':\n');
    expect(sse.connectionCount()).toBe(0);
    expect(errors).toEqual([new Error('app bug')]);
  } finally {
    spy.mockRestore();
  }
});

test('close() waits for a client that is behind to read its last bytes, at most shutdownGraceMs', async () => {
  const sse = fetchSse({ shutdownGraceMs: 300, shutdownRetryMs: 777, shutdownRetryJitterMs: 0 });
  const reading = opened();
  const readerResponse = await sse.response(new Request('http://x/events'), {}, reading.onOpen);
  const stalled = opened();
  const stalledResponse = await sse.response(new Request('http://x/events'), {}, stalled.onOpen);
  await Promise.all([reading.connection, stalled.connection]);
  sse.hub.broadcast({ data: 'q'.repeat(100_000) });
  const text = readerResponse.text();
  const started = Date.now();
  await sse.close();
  const waited = Date.now() - started;
  // The reader read everything at once; the stalled client held close() for the grace period.
  expect(waited).toBeGreaterThanOrEqual(250);
  expect(waited).toBeLessThan(2000);
  expect((await text).endsWith('retry: 777\n\n')).toBe(true);
  // After the grace period the stalled body ends after what the stream held.
  const reader = stalledResponse.body!.getReader();
  while (!(await reader.read()).done);
});

test('metrics and stats() come through the core handler', async () => {
  const otel = memoryMetrics();
  const sse = make({ heartbeatMs: 0, metrics: otel.meter, authorize: (_request, topics) => !topics.includes('secret') });
  const response = await sse.response(new Request('http://x/events'), { topics: ['news'] });
  expect((await sse.response(new Request('http://x/events'), { topics: ['secret'] })).status).toBe(403);
  const reader = response.body!.getReader();
  await readText(reader);
  sse.hub.broadcastTo('news', { data: 'one' });
  expect(await otel.value('ssekit.connections')).toBe(1);
  expect(await otel.value('ssekit.events.broadcast')).toBe(1);
  expect(await otel.value('ssekit.events.delivered')).toBe(1);
  expect(await otel.value('ssekit.connections.rejected', { reason: 'auth' })).toBe(1);
  expect(sse.stats()).toMatchObject({ connections: 1, topics: 1, opened: 1, rejected: { auth: 1 } });
  await reader.cancel();
  for (let i = 0; i < 100 && sse.connectionCount() > 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
  expect(await otel.value('ssekit.connections')).toBe(0);
  expect(await otel.value('ssekit.connections.closed', { reason: 'client' })).toBe(1);
  expect(sse.stats().closed.client).toBe(1);
});

test('maxConnectsPerSecond: a connect past the rate is a 200 with a retry hint that ends at once; onOpen is not called', async () => {
  const sse = make({ maxConnectsPerSecond: 1, heartbeatMs: 0 });
  const first = opened();
  const admitted = await sse.response(new Request('http://x/events'), undefined, first.onOpen);
  expect((await first.connection).closed).toBe(false);
  let pacedOpened = false;
  const paced = await sse.response(new Request('http://x/events'), undefined, () => void (pacedOpened = true));
  expect(paced.status).toBe(200);
  expect(paced.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
  const body = await paced.text();
  expect(body).toMatch(/^:\nretry: \d+\n\n$/);
  expect(Number(/retry: (\d+)/.exec(body)![1])).toBeGreaterThanOrEqual(500);
  expect(pacedOpened).toBe(false);
  expect(sse.connectionCount()).toBe(1);
  expect(sse.stats().rejected.rate).toBe(1);
  await admitted.body!.cancel();
});

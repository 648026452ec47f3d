/**
 * @ssekit/client in Node.js against real ssekit servers (`createSseHandler` on `node:http`
 * with a `MemoryReplayer`): typed data, replay after a drop, gaps, per-connect headers and
 * query, POST bodies, and everything released on close.
 */
import { connect, SseOptionsError, type SseMessage } from '@ssekit/client';
import { activeResources, closeAll, waitFor, withTimeout } from '@ssekit/testkit';
import { record, ssekitServer, take } from './helpers';

afterEach(closeAll);

type Events = {
  tick: { symbol: string; price: number };
  note: string;
  count: number;
  message: string;
};

const fast = { retry: { initialMs: 20, maxMs: 200 } };

describe('typed data', () => {
  it('delivers JSON parsed and text as it is, to listeners and to the iterator', async () => {
    const server = await ssekitServer();
    const rec = record<Events>(server.url, fast);
    const ticks: [Events['tick'], SseMessage<Events, 'tick'>][] = [];
    const notes: string[] = [];
    rec.stream.on('tick', (tick, meta) => ticks.push([tick, meta]));
    rec.stream.on('note', (note) => notes.push(note));
    await rec.opens.next();
    server.hub.broadcast({ event: 'tick', data: { symbol: 'ACME', price: 182.4 } });
    server.hub.broadcast({ event: 'note', data: 'two\nlines' });
    server.hub.broadcast({ event: 'count', data: 42 });
    server.hub.broadcast({ data: 'hello' });
    const [tick, note, count, plain] = await take(rec.messages, 4);
    expect(tick).toEqual({ event: 'tick', data: { symbol: 'ACME', price: 182.4 }, id: expect.any(String), lastEventId: tick!.id, text: '{"symbol":"ACME","price":182.4}' });
    expect(note).toMatchObject({ event: 'note', data: 'two\nlines' });
    expect(count).toMatchObject({ event: 'count', data: 42, text: '42' });
    expect(plain).toMatchObject({ event: 'message', data: 'hello' });
    expect(ticks).toEqual([[{ symbol: 'ACME', price: 182.4 }, tick]]);
    expect(notes).toEqual(['two\nlines']);
    expect(rec.stream.lastEventId).toBe(plain!.id);
  });

  it("parse: 'text' keeps JSON-looking data a string; 'json' reports data that is not JSON and drops it", async () => {
    const server = await ssekitServer();
    const text = record<Events>(server.url, { ...fast, parse: 'text' });
    const json = record(server.url, { ...fast, parse: 'json' });
    const custom = record(server.url, { ...fast, parse: (data, event) => `${event}:${data.length}` });
    await Promise.all([text.opens.next(), json.opens.next(), custom.opens.next()]);
    server.hub.broadcast({ event: 'count', data: 42 });
    server.hub.broadcast({ event: 'note', data: 'not json' });
    expect((await take(text.messages, 2)).map((m) => m.data)).toEqual(['42', 'not json']);
    expect((await take(custom.messages, 2)).map((m) => m.data)).toEqual(['count:2', 'note:8']);
    expect((await json.messages.next()).data).toBe(42);
    const { error, info } = await json.errors.next();
    expect(error).toMatchObject({ code: 'parse', name: 'SseClientError' });
    expect(info).toEqual({ willRetry: false, fatal: false, delayMs: undefined, attempt: 0 });
    server.hub.broadcast({ data: 'null' });
    expect((await json.messages.next()).data).toBeNull(); // the stream went on
    expect(json.stream.state).toBe('open');
  });
});

describe('reconnecting to an ssekit server', () => {
  it('resumes after a dropped stream with Last-Event-ID: the missed events replayed, none twice', async () => {
    const server = await ssekitServer();
    const rec = record(server.url, fast);
    await rec.opens.next();
    server.hub.broadcast({ data: 'a' });
    server.hub.broadcast({ data: 'b' });
    const before = await take(rec.messages, 2);
    const first = await server.connections.next();
    first.close(); // the server drops the stream
    server.hub.broadcast({ data: 'missed 1' });
    server.hub.broadcast({ data: 'missed 2' });
    const { error, info } = await rec.errors.next();
    expect(error.code).toBe('ended');
    expect(info).toMatchObject({ willRetry: true, fatal: false, attempt: 1 });
    expect(await rec.opens.next()).toEqual({ status: 200, lastEventId: before[1]!.id, reconnect: true });
    server.hub.broadcast({ data: 'live' });
    const after = await take(rec.messages, 3);
    expect(after.map((m) => m.data)).toEqual(['missed 1', 'missed 2', 'live']);
    const requests = await take(server.requests, 2);
    expect(requests[0]!.headers['last-event-id']).toBeUndefined();
    expect(requests[1]!.headers['last-event-id']).toBe(before[1]!.id);
    const ids = [...before, ...after].map((m) => m.id);
    expect(new Set(ids).size).toBe(5);
  });

  it('starts from the lastEventId option, and reports a gap the server cannot replay', async () => {
    const server = await ssekitServer();
    server.hub.broadcast({ data: 'old 1' });
    server.hub.broadcast({ data: 'old 2' });
    const oldest = server.replayer.lastId()!;
    server.hub.broadcast({ data: 'old 3' });

    const resumed = record(server.url, { ...fast, lastEventId: oldest });
    expect((await resumed.messages.next()).data).toBe('old 3');

    const lost = record(server.url, { ...fast, lastEventId: 'from-a-previous-server' });
    expect(await lost.gaps.next()).toEqual({ lastEventId: 'from-a-previous-server', data: 'gap' });
    server.hub.broadcast({ data: 'after the gap' });
    // The reset event is not a message: the first message is the live one.
    expect((await lost.messages.next()).data).toBe('after the gap');
    expect(lost.gaps.pending).toBe(0);
  });

  it('calls the headers and query functions on every connect, with the attempt and the id', async () => {
    const server = await ssekitServer();
    const contexts: unknown[] = [];
    let token = 0;
    const rec = record(server.url, {
      ...fast,
      headers: (context) => {
        contexts.push(context);
        return { authorization: `Bearer t${token++}`, 'x-optional': undefined };
      },
      query: async ({ attempt }) => ({ topic: ['news', 'sport'], attempt, empty: null }),
    });
    await rec.opens.next();
    server.hub.broadcastTo('sport', { data: 'goal' });
    const goal = await rec.messages.next();
    (await server.connections.next()).close();
    await rec.opens.next();
    const [first, second] = await take(server.requests, 2);
    expect(first!.headers.authorization).toBe('Bearer t0');
    expect(second!.headers.authorization).toBe('Bearer t1');
    expect(first!.headers['x-optional']).toBeUndefined();
    expect(first!.headers.accept).toBe('text/event-stream');
    expect(first!.url.searchParams.getAll('topic')).toEqual(['news', 'sport']);
    expect(second!.url.search).toBe('?topic=news&topic=sport&attempt=1');
    expect(contexts).toEqual([
      { attempt: 0, lastEventId: undefined },
      { attempt: 1, lastEventId: goal.id },
    ]);
  });

  it('sends a POST body, from a function, again on every connect', async () => {
    const server = await ssekitServer();
    let prompts = 0;
    const rec = record(server.url, {
      ...fast,
      method: 'post',
      headers: { 'content-type': 'application/json' },
      body: () => JSON.stringify({ prompt: 'hi', n: prompts++ }),
    });
    await rec.opens.next();
    (await server.connections.next()).close();
    await rec.opens.next();
    const requests = await take(server.requests, 2);
    expect(requests.map((r) => [r.method, r.headers['content-type'], r.body])).toEqual([
      ['POST', 'application/json', '{"prompt":"hi","n":0}'],
      ['POST', 'application/json', '{"prompt":"hi","n":1}'],
    ]);
  });

  it("with retry: false, a stream that ends closes as 'ended' and is never requested again", async () => {
    const server = await ssekitServer();
    const rec = record(server.url, { retry: false, method: 'POST', body: 'once' });
    await rec.opens.next();
    server.hub.broadcast({ data: 'the answer' });
    expect((await rec.messages.next()).data).toBe('the answer');
    (await server.connections.next()).close();
    expect(await rec.closes.next()).toEqual({ reason: 'ended', error: undefined });
    await rec.iteration; // ends without an error
    expect(rec.errors.pending).toBe(0);
    expect(server.requests.items).toHaveLength(1);
  });
});

describe('closing', () => {
  it('close() ends the request on the server, clears every timer, and ends the iterator', async () => {
    const server = await ssekitServer();
    const baseline = activeResources();
    const rec = record(server.url, { heartbeatTimeoutMs: 60_000 });
    await rec.opens.next();
    expect(server.handler.connectionCount()).toBe(1);
    rec.stream.close();
    rec.stream.close(); // idempotent
    expect(rec.stream.state).toBe('closed');
    expect(await rec.closes.next()).toEqual({ reason: 'close', error: undefined });
    await withTimeout(rec.iteration, 2000, 'the iterator to end');
    await waitFor(() => server.handler.connectionCount() === 0, 2000, 'the server to see the client go');
    await waitFor(() => (activeResources()['Timeout'] ?? 0) <= (baseline['Timeout'] ?? 0), 2000, 'the watchdog timer to be cleared');
    expect(rec.closes.pending).toBe(0);
  });

  it('an aborted signal closes the stream, also while it waits to reconnect', async () => {
    const server = await ssekitServer();
    const controller = new AbortController();
    const rec = record(server.url, { signal: controller.signal, retry: { initialMs: 60_000 } });
    await rec.opens.next();
    (await server.connections.next()).close();
    expect((await rec.errors.next()).info.delayMs).toBeGreaterThanOrEqual(30_000);
    const baseline = activeResources()['Timeout'] ?? 0;
    controller.abort();
    expect(await rec.closes.next()).toEqual({ reason: 'abort', error: undefined });
    expect(activeResources()['Timeout'] ?? 0).toBeLessThan(baseline);

    const already = connect(server.url, { signal: AbortSignal.abort() });
    expect(already.state).toBe('closed');
  });

  it('leaving a for await loop early closes the stream', async () => {
    const server = await ssekitServer();
    const stream = connect<Events>(server.url, fast);
    const closed = new Promise((resolve) => stream.on('close', resolve));
    stream.on('open', () => {
      server.hub.broadcast({ data: 'one' });
      server.hub.broadcast({ data: 'two' });
    });
    const seen: unknown[] = [];
    for await (const message of stream) {
      seen.push(message.data);
      break;
    }
    expect(seen).toEqual(['one']);
    expect(await closed).toEqual({ reason: 'close', error: undefined });
    await waitFor(() => server.handler.connectionCount() === 0, 2000, 'the server to see the client go');
  });
});

describe('options', () => {
  it('rejects an unknown option with SseOptionsError naming it', () => {
    expect(() => connect('http://localhost/x', { heartbeatTimeoutMS: 1 } as never)).toThrow(
      expect.objectContaining({ name: 'SseOptionsError', code: 'options', option: 'heartbeatTimeoutMS', value: 1 }),
    );
    expect(() => connect('http://localhost/x', { retry: { jiter: 1 } } as never)).toThrow(
      expect.objectContaining({ option: 'retry.jiter', message: expect.stringContaining('unknown option') }),
    );
  });

  it.each([
    [{ heartbeatTimeoutMs: -1 }, 'heartbeatTimeoutMs'],
    [{ heartbeatTimeoutMs: '5' }, 'heartbeatTimeoutMs'],
    [{ retry: { jitter: 2 } }, 'retry.jitter'],
    [{ retry: { factor: 0.5 } }, 'retry.factor'],
    [{ retry: { initialMs: 5000, maxMs: 100 } }, 'retry.maxMs'],
    [{ retry: true }, 'retry'],
    [{ lastEventId: 'a\nb' }, 'lastEventId'],
    [{ method: 'GET', body: 'x' }, 'body'],
    [{ method: 'NOT A METHOD' }, 'method'],
    [{ parse: 'xml' }, 'parse'],
    [{ credentials: 'always' }, 'credentials'],
    [{ headers: 'authorization: x' }, 'headers'],
    [{ shared: 'yes' }, 'shared'],
    [{ fetch: {} }, 'fetch'],
  ])('rejects %j naming %s', (options, option) => {
    let thrown: unknown;
    try {
      connect('http://localhost/x', options as never);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(SseOptionsError);
    expect((thrown as SseOptionsError).option).toBe(option);
  });

  it('rejects a URL that is not http(s), or relative without a page to resolve it against', () => {
    expect(() => connect('/events')).toThrow(expect.objectContaining({ option: 'url' }));
    expect(() => connect('ftp://localhost/events')).toThrow(expect.objectContaining({ option: 'url' }));
  });

  it('falls back to a private connection where tabs cannot share one (Node.js)', async () => {
    const server = await ssekitServer();
    const rec = record(server.url, { shared: true });
    await rec.opens.next();
    expect(rec.stream.role).toBe('private');
  });
});

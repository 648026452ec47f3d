import * as http from 'node:http';
import {
  DefaultProvider,
  Hub,
  MemoryReplayer,
  SseConnection,
  SseHttpError,
  SseOptionsError,
  createSseHandler,
  withReplay,
  isClientDisconnected,
  type Connection,
  type ConnectionOptions,
  type Provider,
  type SseOptions,
} from '@ssekit/core';
import { nodeSink } from '@ssekit/core/integration';
import { Inbox, closeAll, connect, connectH2, deferred, handlerServer, recordingSink, request, startH2Server, track, waitFor, withTimeout } from './helpers';

afterEach(closeAll);

describe('options', () => {
  it.each<[string, SseOptions]>([
    ['negative heartbeatMs', { heartbeatMs: -1 }],
    ['fractional retryMs', { retryMs: 0.5 }],
    ['zero maxBufferedBytes', { maxBufferedBytes: 0 }],
    ['a hub that is not a Broadcaster', { hub: { broadcast() {} } as never }],
    ['a replayer that is not one', { replayer: { store() {} } as never }],
    ['a provider without createConnection', { provider: {} as never }],
    ['authorize that is not a function', { authorize: true as never }],
    ['maxConnections 0', { maxConnections: 0 }],
    ['negative maxConnectionsPerIp', { maxConnectionsPerIp: -2 }],
    ['fractional retryAfterSeconds', { retryAfterSeconds: 1.5 }],
    ['a resetEvent that is a string', { resetEvent: 'reset' as never }],
    ['a resetEvent that cannot be encoded', { resetEvent: { event: 'reset\nid: 1', data: 'x' } }],
  ])('%s throws SseOptionsError', (_name, options) => {
    expect(() => createSseHandler(options)).toThrow(SseOptionsError);
  });

  it.each<[string, () => unknown, string]>([
    ['createSseHandler', () => createSseHandler({ heartbeatMS: 1000 } as never), 'Invalid option "heartbeatMS": unknown option (did you mean heartbeatMs?)'],
    ['createSseHandler, a typo', () => createSseHandler({ maxConections: 3 } as never), 'Invalid option "maxConections": unknown option (did you mean maxConnections?)'],
    ['createSseHandler, nothing close', () => createSseHandler({ colour: 'red' } as never), 'Invalid option "colour": unknown option (known: hub, replayer,'],
    ['Hub', () => new Hub({ onbroadcast: () => undefined } as never), 'Invalid option "onbroadcast": unknown option (did you mean onBroadcast?)'],
    ['MemoryReplayer', () => new MemoryReplayer(10, 0, { prefx: 'a' } as never), 'Invalid option "prefx": unknown option (did you mean prefix?)'],
    ['SseConnection', () => new SseConnection(recordingSink(() => undefined), { retryMS: 10 } as never), 'Invalid option "retryMS": unknown option (did you mean retryMs?)'],
  ])('%s rejects an unknown key, naming it', (_name, make, message) => {
    expect(make).toThrow(SseOptionsError);
    expect(make).toThrow(message);
  });

  it('withReplay and open options reject unknown keys too', async () => {
    const conn = new SseConnection(recordingSink(() => undefined), { heartbeatMs: 0 });
    await expect(withReplay(conn, { hub: new Hub(), topic: ['a'] } as never)).rejects.toThrow('Invalid option "topic": unknown option (did you mean topics?)');
    const { refused, server } = await handlerServer({ heartbeatMs: 0 }, () => ({ topic: ['a'] }) as never);
    expect((await request(server.url)).status).toBe(500);
    expect(await refused.next()).toMatchObject({ code: 'options', option: 'topic' });
  });

  it('options that are not an object throw SseOptionsError', () => {
    expect(() => createSseHandler(null as never)).toThrow(SseOptionsError);
  });

  it('a hub passed in is used as is', () => {
    const hub = new Hub();
    expect(createSseHandler({ hub }).hub).toBe(hub);
    expect(createSseHandler().hub).toBeInstanceOf(Hub);
  });
});

describe('topics', () => {
  const cases: [string, unknown][] = [
    ['empty', ''],
    ['longer than 256 characters', 'x'.repeat(257)],
    ['with a line feed', 'a\nb'],
    ['with a NUL', 'a\u0000b'],
    ['with DEL', 'a\u007f'],
    ['with a C1 control', 'a\u0085'],
    ['not a string', 42],
    ['with a lone surrogate', 'a\uD800'],
  ];

  it.each(cases)('a topic %s is refused with 400 and nothing written', async (_name, topic) => {
    const { handler, refused, server } = await handlerServer({ heartbeatMs: 0 }, () => ({ topics: ['ok', topic as string] }));
    const res = await request(server.url);
    expect(res.status).toBe(400);
    const error = await refused.next();
    expect(error).toBeInstanceOf(SseHttpError);
    expect((error as SseHttpError).status).toBe(400);
    expect(res.headers['content-type'] ?? '').not.toMatch(/event-stream/);
    expect(res.body).toMatch(/^Invalid topic: /);
    expect(handler.connectionCount()).toBe(0);
    expect(handler.hub.connectionCount()).toBe(0);
  });

  it('topics that are not an array are refused with 400', async () => {
    const { refused, server } = await handlerServer({ heartbeatMs: 0 }, () => ({ topics: 'news' as never }));
    expect((await request(server.url)).status).toBe(400);
    expect(await refused.next()).toBeInstanceOf(SseHttpError);
  });

  it('a 256-character topic with unicode is accepted', async () => {
    const topic = 'é'.repeat(256);
    const { handler, opened, server } = await handlerServer({ heartbeatMs: 0 }, () => ({ topics: [topic] }));
    const client = await connect(server.url);
    await opened.next();
    expect(handler.hub.topicCount(topic)).toBe(1);
    await handler.hub.broadcastTo(topic, { data: 'in' });
    expect((await client.nextEvent()).data).toBe('in');
  });
});

describe('limits', () => {
  it('maxConnections answers 503 with Retry-After, and admits again once one closes', async () => {
    const { handler, opened, server } = await handlerServer({ heartbeatMs: 0, maxConnections: 2, retryAfterSeconds: 7 });
    const a = await connect(server.url);
    const connA = await opened.next();
    await connect(server.url);
    await opened.next();
    const refused = await request(server.url);
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('7');
    expect(handler.connectionCount()).toBe(2);
    a.destroy();
    await withTimeout(connA.closedPromise(), 1000, 'close');
    expect(handler.connectionCount()).toBe(1);
    const c = await connect(server.url);
    expect(c.status).toBe(200);
    await opened.next();
  });

  it('streams still being authorized count against maxConnections', async () => {
    const gate = deferred<boolean>();
    const { opened, server } = await handlerServer({ heartbeatMs: 0, maxConnections: 1, authorize: () => gate.promise });
    const first = connect(server.url);
    const second = await request(server.url);
    expect(second.status).toBe(503);
    gate.resolve(true);
    expect((await first).status).toBe(200);
    await opened.next();
  });

  it('maxConnectionsPerIp answers 429 with Retry-After, per address', async () => {
    const { handler, opened, server } = await handlerServer({ heartbeatMs: 0, maxConnectionsPerIp: 1 });
    const a = await connect(server.url);
    const connA = await opened.next();
    const refused = await request(server.url);
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('5');
    a.destroy();
    await withTimeout(connA.closedPromise(), 1000, 'close');
    expect((await connect(server.url)).status).toBe(200);
    await opened.next();
    expect(handler.connectionCount()).toBe(1);
  });

  it('maxConnectionsPerIp uses the address the adapter gives', async () => {
    const { refused, server } = await handlerServer({ heartbeatMs: 0, maxConnectionsPerIp: 1 }, undefined, (req) => req.headers['x-client'] as string);
    expect((await connect(server.url, { 'x-client': '10.0.0.1' })).status).toBe(200);
    expect((await connect(server.url, { 'x-client': '10.0.0.2' })).status).toBe(200);
    expect((await request(server.url, { 'x-client': '10.0.0.1' })).status).toBe(429);
    expect(await refused.next()).toEqual(expect.objectContaining({ status: 429, headers: { 'Retry-After': '5' } }));
  });
});

describe('a client that leaves before its stream opens', () => {
  it('leaves nothing registered and frees its limits', async () => {
    const gate = deferred<boolean>();
    const reached = deferred<http.IncomingMessage>();
    const { handler, opened, server } = await handlerServer(
      {
        heartbeatMs: 0,
        maxConnections: 1,
        maxConnectionsPerIp: 1,
        authorize: (request) => {
          reached.resolve(request as http.IncomingMessage);
          return gate.promise;
        },
      },
      () => ({ topics: ['t'] }),
    );
    const req = http.request(server.url, { agent: false });
    req.on('error', () => {});
    req.end();
    const serverSide = await withTimeout(reached.promise, 1000, 'authorize');
    req.destroy();
    await waitFor(() => isClientDisconnected(serverSide), 1000, 'the server to see the disconnect');
    gate.resolve(true);
    const conn = await opened.next();
    expect(conn.closed).toBe(true);
    expect(handler.connectionCount()).toBe(0);
    expect(handler.hub.connectionCount()).toBe(0);
    expect(handler.hub.topicCount('t')).toBe(0);
    // Both limits were given back.
    expect((await connect(server.url)).status).toBe(200);
  });
});

describe('authorize', () => {
  it('false answers 403 and registers nothing', async () => {
    const seen: unknown[] = [];
    const { handler, server } = await handlerServer(
      {
        heartbeatMs: 0,
        maxConnectionsPerIp: 1,
        authorize: (req, topics) => {
          seen.push([req.url, topics]);
          return req.url !== '/denied';
        },
      },
      (url) => ({ topics: url.pathname === '/denied' ? ['secret'] : ['public'] }),
    );
    const denied = await request(server.url + '/denied');
    expect(denied.status).toBe(403);
    expect(handler.hub.connectionCount()).toBe(0);
    expect(handler.hub.topicCount('secret')).toBe(0);
    // The refused request did not use up the per-address allowance.
    const allowed = await connect(server.url + '/ok');
    expect(allowed.status).toBe(200);
    expect(seen).toEqual([['/denied', ['secret']], ['/ok', ['public']]]);
  });

  it('may be async, and may throw its own SseHttpError (401)', async () => {
    const { refused, server } = await handlerServer({
      heartbeatMs: 0,
      authorize: async (req) => {
        await Promise.resolve();
        if (!req.headers.authorization) throw new SseHttpError(401, 'Log in first', { 'WWW-Authenticate': 'Bearer' });
        return true;
      },
    });
    const anonymous = await request(server.url);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toBe('Bearer');
    expect(await refused.next()).toBeInstanceOf(SseHttpError);
    expect((await connect(server.url, { Authorization: 'Bearer x' })).status).toBe(200);
  });
});

describe('close()', () => {
  it('ends every stream with a final retry hint and refuses new ones', async () => {
    const { handler, opened, server } = await handlerServer({ heartbeatMs: 0, shutdownRetryMs: 4321, shutdownRetryJitterMs: 0 });
    const clients = [await connect(server.url), await connect(server.url)];
    const conns: Connection[] = [await opened.next(), await opened.next()];
    await handler.hub.broadcast({ data: 'before' });
    await withTimeout(handler.close(), 500, 'handler.close()');
    expect(conns.map((c) => c.closeReason)).toEqual(['server', 'server']);
    expect(handler.connectionCount()).toBe(0);
    expect(handler.hub.connectionCount()).toBe(0);
    for (const client of clients) {
      await withTimeout(client.ended, 500, 'end of stream');
      expect(client.text).toBe('data: before\n\nretry: 4321\n\n');
    }
    const late = await request(server.url);
    expect(late.status).toBe(503);
    expect(late.headers['retry-after']).toBe('5');
  });

  it('a stream still being created by an async provider is closed too', async () => {
    const gate = deferred();
    const reached = deferred();
    const provider: Provider = {
      async createConnection(req, res, options) {
        reached.resolve();
        await gate.promise;
        return new DefaultProvider().createConnection(req, res, options);
      },
    };
    const { handler, opened, server } = await handlerServer({ heartbeatMs: 0, provider, shutdownRetryMs: 99, shutdownRetryJitterMs: 0 });
    const client = connect(server.url);
    await withTimeout(reached.promise, 1000, 'the request to reach the provider');
    const closing = handler.close();
    gate.resolve();
    await withTimeout(closing, 500, 'handler.close()');
    const conn = await opened.next();
    expect(conn.closeReason).toBe('server');
    expect(handler.hub.connectionCount()).toBe(0);
    const rec = await client;
    await withTimeout(rec.ended, 500, 'end of stream');
    expect(rec.text).toBe('retry: 99\n\n');
  });

  it('the hint defaults to retryMs, then to 1000 (without jitter)', async () => {
    const withRetry = await handlerServer({ heartbeatMs: 0, retryMs: 250, shutdownRetryJitterMs: 0 });
    const a = await connect(withRetry.server.url);
    await withRetry.opened.next();
    await withRetry.handler.close();
    await a.ended;
    expect(a.text).toBe('retry: 250\n\nretry: 250\n\n');

    const plain = await handlerServer({ heartbeatMs: 0, shutdownRetryJitterMs: 0 });
    const b = await connect(plain.server.url);
    await plain.opened.next();
    await plain.handler.close();
    await b.ended;
    expect(b.text).toBe('retry: 1000\n\n');
  });
});

describe('over HTTP/2', () => {
  it('opens streams, replays and applies the per-address limit', async () => {
    const handler = createSseHandler({ heartbeatMs: 0, maxConnectionsPerIp: 1, replayer: new MemoryReplayer(10, 0, { prefix: 'h' }) });
    track(() => handler.close());
    const statuses = new Inbox<number>();
    const server = await startH2Server((req, res) => {
      handler.open(req, res, { topics: ['t'] }).then(
        () => statuses.push(200),
        (error: SseHttpError) => {
          statuses.push(error.status);
          res.writeHead(error.status, error.headers).end();
        },
      );
    });
    await handler.hub.broadcastTo('t', { data: 'one' });
    await handler.hub.broadcastTo('t', { data: 'two' });
    const client = await connectH2(server.url, '/', { 'last-event-id': 'h-1' });
    expect(await statuses.next()).toBe(200);
    expect(await client.nextEvent()).toEqual({ id: 'h-2', event: undefined, data: 'two' });
    const second = await connectH2(server.url);
    expect(await statuses.next()).toBe(429);
    expect(second.status).toBe(429);
    expect(second.headers['retry-after']).toBe('5');
    client.destroy();
    await waitFor(() => handler.connectionCount() === 0, 1000, 'the stream to close');
  });
});

describe('Last-Event-ID', () => {
  it('is read once, into the options the provider gets; replay: false reads nothing', async () => {
    const seen: ConnectionOptions[] = [];
    const provider: Provider = {
      createConnection(req, res, options) {
        seen.push(options);
        return new DefaultProvider().createConnection(req, res, options);
      },
    };
    const replayer = new MemoryReplayer(10, 0, { prefix: 'r' });
    const { handler, opened, server } = await handlerServer({ heartbeatMs: 0, provider, replayer }, (url) => ({
      replay: url.searchParams.get('replay') !== 'no',
    }));
    handler.hub.broadcast({ data: 'missed' });

    const resumed = await connect(server.url, { 'Last-Event-ID': 'r-0' });
    const conn = await opened.next();
    expect(conn.lastEventId).toBe('r-0');
    expect((await resumed.nextEvent()).data).toBe('missed');

    const fresh = await connect(`${server.url}/?replay=no&lastEventId=r-0`, { 'Last-Event-ID': 'r-0' });
    const ignoring = await opened.next();
    // Neither the header nor the query parameter: the stream asked not to resume.
    expect(ignoring.lastEventId).toBeUndefined();
    expect(ignoring.replayGap).toBe(false);
    expect(seen.map((o) => Object.hasOwn(o, 'lastEventId') && o.lastEventId)).toEqual(['r-0', undefined]);
    handler.hub.broadcast({ data: 'live' });
    expect((await fresh.nextEvent()).data).toBe('live');
  });
});

describe('custom connections', () => {
  it('a provider may return a subclass of SseConnection, or a Proxy of one, and replay still hands off', async () => {
    class Tagged extends SseConnection {
      readonly tag = 'tagged';
    }
    let useProxy = false;
    const provider: Provider = {
      createConnection(req, res, options) {
        const conn = new Tagged(nodeSink(req, res), options);
        return useProxy ? new Proxy(conn, {}) : conn;
      },
    };
    const replayer = new MemoryReplayer(10, 0, { prefix: 'w' });
    const { handler, opened, server } = await handlerServer({ heartbeatMs: 0, provider, replayer });
    handler.hub.broadcast({ data: 'one' });
    for (const proxy of [false, true]) {
      useProxy = proxy;
      const client = await connect(server.url, { 'Last-Event-ID': 'w-0' });
      const conn = await opened.next();
      expect((conn as Tagged).tag).toBe('tagged');
      expect(await client.nextEvent()).toEqual({ id: 'w-1', event: undefined, data: 'one' });
      expect(conn.replayGap).toBe(false);
    }
  });

  it('with a replayer, a connection not built on an SseConnection is refused with SseOptionsError and closed', async () => {
    let made: Connection | undefined;
    const provider: Provider = {
      createConnection(req, res, options) {
        const inner = new DefaultProvider().createConnection(req, res, options);
        // Delegates every member, but is not an SseConnection: core cannot reach its handoff.
        made = {
          get closed() { return inner.closed; },
          get closeReason() { return inner.closeReason; },
          get signal() { return inner.signal; },
          get lastEventId() { return inner.lastEventId; },
          get replayGap() { return inner.replayGap; },
          get bufferedBytes() { return inner.bufferedBytes; },
          send: (e) => inner.send(e),
          sendComment: (t) => inner.sendComment(t),
          setRetry: (ms) => inner.setRetry(ms),
          pipe: (s) => inner.pipe(s),
          close: (o) => inner.close(o),
          closedPromise: () => inner.closedPromise(),
          onClose: (l) => inner.onClose(l),
          offClose: (l) => inner.offClose(l),
          writeEncoded: (b, id) => inner.writeEncoded(b, id),
        } satisfies Connection;
        return made;
      },
    };
    const { handler, refused, server } = await handlerServer({ heartbeatMs: 0, provider, replayer: new MemoryReplayer(10) });
    await connect(server.url);
    const error = await refused.next();
    expect(error).toBeInstanceOf(SseOptionsError);
    expect((error as SseOptionsError).option).toBe('provider');
    expect(made?.closeReason).toBe('server');
    expect(handler.connectionCount()).toBe(0);
    expect(handler.hub.connectionCount()).toBe(0);
  });
});

describe('openStream: the same handler over a transport of its own', () => {
  /** A request as a non-Node transport describes it (here: a Fetch-style header lookup). */
  function streamRequest(headers: Record<string, string>, url: string, ip?: string) {
    return { request: { headers }, header: (name: string) => headers[name], url, ip };
  }

  it('applies limits, authorize, Last-Event-ID, the replay handoff, the reset event and shutdown', async () => {
    const replayer = new MemoryReplayer(10, 0, { prefix: 't' });
    const seen: unknown[] = [];
    const handler = createSseHandler<{ headers: Record<string, string> }>({
      heartbeatMs: 0,
      replayer,
      resetEvent: true,
      maxConnectionsPerIp: 1,
      shutdownRetryMs: 42,
      shutdownRetryJitterMs: 0,
      authorize: (request, topics) => {
        seen.push([request.headers['authorization'], topics]);
        return request.headers['authorization'] === 'ok';
      },
    });
    track(() => handler.close());
    handler.hub.broadcastTo('news', { data: 'one' });
    handler.hub.broadcastTo('news', { data: 'two' });

    const wires: string[][] = [];
    const connect = (options: ConnectionOptions) => {
      const wire: string[] = [];
      wires.push(wire);
      return new SseConnection(recordingSink((text) => wire.push(text)), options);
    };

    await expect(handler.openStream(streamRequest({ authorization: 'no' }, '/e', 'a'), { topics: ['news'] }, connect)).rejects.toMatchObject({ status: 403 });
    await expect(handler.openStream(streamRequest({}, '/e'), { topics: [''] }, connect)).rejects.toMatchObject({ status: 400 });
    expect(wires).toHaveLength(0);

    // The resume id comes from the transport's header lookup.
    const conn = await handler.openStream(streamRequest({ authorization: 'ok', 'last-event-id': 't-1' }, '/e', 'a'), { topics: ['news'] }, connect);
    expect(conn.lastEventId).toBe('t-1');
    expect(seen).toContainEqual(['ok', ['news']]);
    expect(wires[0]!.join('')).toBe('id: t-2\ndata: two\n\n');
    await expect(handler.openStream(streamRequest({ authorization: 'ok' }, '/e', 'a'), {}, connect)).rejects.toMatchObject({ status: 429 });

    // The query parameter serves clients that cannot set the header; an unknown id is a gap.
    const gap = await handler.openStream(streamRequest({ authorization: 'ok' }, '/e?lastEventId=elsewhere-9', 'b'), {}, connect);
    expect(gap.replayGap).toBe(true);
    expect(wires[1]!.join('')).toBe('event: ssekit-reset\ndata: gap\n\n');

    handler.hub.broadcastTo('news', { data: 'live' });
    expect(wires[0]!.join('')).toBe('id: t-2\ndata: two\n\nid: t-3\ndata: live\n\n');
    expect(handler.connectionCount()).toBe(2);
    await handler.close();
    expect([conn.closeReason, gap.closeReason]).toEqual(['server', 'server']);
    expect(wires[0]!.at(-1)).toBe('retry: 42\n\n');
    expect(handler.connectionCount()).toBe(0);
  });
});

/**
 * Hostile `Last-Event-ID` values. Whatever a client sends back, the result is defined: either
 * Node refuses the request before ssekit sees it (431 for a header section over 16 KiB, 400
 * for NUL or control bytes), or the stream opens with 200, replays nothing it cannot vouch
 * for, reports a gap (`replayGap`, and the reset event when `resetEvent` is set) and goes on
 * delivering live events. Never an error after the headers, never unbounded work.
 */
import { MemoryReplayer } from '@ssekit/core';
import { heartbeatStats } from '@ssekit/core/integration';
import { connect, rawRequest, rawWaitFor, serveCore, topicsFromQuery, type CoreServer } from '@ssekit/testkit';
import { adapters, type RunningApp } from '@ssekit/testkit/adapters';

const RESET = 'ssekit-reset';

async function coreServer(): Promise<{ server: CoreServer; replayer: MemoryReplayer }> {
  const replayer = new MemoryReplayer(100);
  const server = await serveCore({ replayer, resetEvent: true, heartbeatMs: 0 }, topicsFromQuery);
  for (let n = 1; n <= 5; n++) server.handler.hub.broadcast({ data: `old ${n}` });
  return { server, replayer };
}

/** Opens with the given headers/path, expects a gap, then checks that live delivery works. */
async function expectGap(server: CoreServer, path: string, headers: Record<string, string>): Promise<void> {
  const client = await connect(`${server.server.url}${path}`, headers);
  expect(client.status).toBe(200);
  const [first] = await client.waitForEvents(1);
  expect(first).toMatchObject({ event: RESET, data: 'gap' });
  const connection = await server.opened.next(2000, 'the connection');
  expect(server.opened.pending).toBe(0);
  expect(connection.replayGap).toBe(true);
  server.handler.hub.broadcast({ data: 'live' });
  const events = await client.waitForEvents(2);
  expect(events.map((e) => e.data)).toEqual(['gap', 'live']);
  expect(server.refused.items).toEqual([]);
}

describe('on the core handler', () => {
  test('an empty (or blank) Last-Event-ID is no id: no replay, no gap', async () => {
    const { server } = await coreServer();
    for (const value of ['', '   ']) {
      const client = await connect(`${server.server.url}/events`, { 'last-event-id': value });
      expect(client.status).toBe(200);
      const connection = await server.opened.next(2000, 'the connection');
      expect(server.opened.pending).toBe(0);
      expect(connection.lastEventId).toBeUndefined();
      expect(connection.replayGap).toBe(false);
      server.handler.hub.broadcast({ data: 'live' });
      const [event] = await client.waitForEvents(1);
      expect(event!.data).toBe('live');
      client.close();
      await connection.closedPromise();
    }
  });

  test.each([
    ['from another replayer (another process, before a restart)', () => `${new MemoryReplayer().prefix}-3`],
    ['ahead of the newest', (r: MemoryReplayer) => `${r.prefix}-999999`],
    ['beyond a safe integer', (r: MemoryReplayer) => `${r.prefix}-9007199254740993`],
    ['with no sequence', (r: MemoryReplayer) => `${r.prefix}-`],
    ['with a non-numeric sequence', (r: MemoryReplayer) => `${r.prefix}-abc`],
    ['with a leading zero', (r: MemoryReplayer) => `${r.prefix}-01`],
    ['with a negative sequence', (r: MemoryReplayer) => `${r.prefix}--1`],
    ['in exponent form', (r: MemoryReplayer) => `${r.prefix}-1e0`],
    ['two ids joined (a repeated header)', (r: MemoryReplayer) => `${r.prefix}-1, ${r.prefix}-2`],
    ['a path', () => '../../etc/passwd'],
    ['a UTF-8 non-ASCII string', () => Buffer.from('événement-1', 'utf8').toString('latin1')],
    ['15,000 characters (under the 16 KiB header limit)', () => 'x'.repeat(15_000)],
  ])('an id %s is a gap', async (_what, make) => {
    const { server, replayer } = await coreServer();
    await expectGap(server, '/events', { 'last-event-id': make(replayer) });
  });

  test('a lastEventId query parameter is read like the header, hostile or not', async () => {
    const { server, replayer } = await coreServer();
    // Percent-encoded CR LF: decoded into the id, where it can only be a lookup miss.
    await expectGap(server, `/events?lastEventId=${encodeURIComponent('\r\nevent: evil')}`, {});
    await expectGap(server, `/events?lastEventId=${'q'.repeat(15_000)}`, {});
    // A good id replays (the two live events above were stored too).
    const client = await connect(`${server.server.url}/events?lastEventId=${replayer.prefix}-3`);
    const events = await client.waitForEvents(4);
    expect(events.map((e) => e.data)).toEqual(['old 4', 'old 5', 'live', 'live']);
  });

  test('the header wins over the query parameter', async () => {
    const { server, replayer } = await coreServer();
    const client = await connect(`${server.server.url}/events?lastEventId=${replayer.prefix}-1`, { 'last-event-id': `${replayer.prefix}-4` });
    const [event] = await client.waitForEvents(1);
    expect(event!.data).toBe('old 5');
  });

  test('spaces around a good id are trimmed by Node, and it replays', async () => {
    const { server, replayer } = await coreServer();
    const raw = rawRequest(server.server.port, `GET /events HTTP/1.1\r\nHost: x\r\nLast-Event-ID:    ${replayer.prefix}-4   \r\n\r\n`);
    await rawWaitFor(raw, 'old 5');
    expect(raw.received().toString('latin1')).not.toContain('old 4');
  });

  test('over 16 KiB of header (or request line): Node answers 431 before ssekit runs', async () => {
    const { server } = await coreServer();
    for (const request of [
      `GET /events HTTP/1.1\r\nHost: x\r\nLast-Event-ID: ${'x'.repeat(17_000)}\r\n\r\n`,
      `GET /events?lastEventId=${'x'.repeat(17_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
    ]) {
      const response = await rawRequest(server.server.port, request).response;
      expect(response.toString('latin1')).toMatch(/^HTTP\/1\.1 431 /);
    }
    expect(server.opened.items).toEqual([]);
    expect(server.refused.items).toEqual([]);
    expect(server.handler.connectionCount()).toBe(0);
  });

  test('NUL or control bytes in the header: Node answers 400 before ssekit runs', async () => {
    const { server } = await coreServer();
    for (const byte of [0x00, 0x01, 0x7f]) {
      const request = Buffer.concat([Buffer.from('GET /events HTTP/1.1\r\nHost: x\r\nLast-Event-ID: a'), Buffer.from([byte]), Buffer.from('b\r\n\r\n')]);
      const response = await rawRequest(server.server.port, request).response;
      expect(response.toString('latin1')).toMatch(/^HTTP\/1\.1 400 /);
    }
    expect(server.opened.items).toEqual([]);
  });

  test('bytes that are not UTF-8 are a gap on a healthy stream', async () => {
    const { server } = await coreServer();
    const request = Buffer.concat([Buffer.from('GET /events HTTP/1.1\r\nHost: x\r\nLast-Event-ID: '), Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0x80]), Buffer.from('\r\n\r\n')]);
    const raw = rawRequest(server.server.port, request);
    await rawWaitFor(raw, `event: ${RESET}`);
    expect(raw.received().toString('latin1')).toMatch(/^HTTP\/1\.1 200 /);
    const connection = await server.opened.next(2000, 'the connection');
    expect(server.opened.pending).toBe(0);
    expect(connection.lastEventId).toBe(Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0x80]).toString('latin1'));
    server.handler.hub.broadcast({ data: 'live after bad bytes' });
    await rawWaitFor(raw, 'live after bad bytes');
  });

  test('a long hostile id costs no replay work', async () => {
    const { server, replayer } = await coreServer();
    const replay = jest.spyOn(replayer, 'replay');
    const sends: unknown[] = [];
    const result = await replayer.replay('y'.repeat(15_000), (e) => void sends.push(e));
    expect(result).toEqual({ count: 0, gap: true });
    expect(sends).toEqual([]);
    replay.mockRestore();
    await expectGap(server, '/events', { 'last-event-id': 'y'.repeat(15_000) });
  });
});

describe.each(adapters.map((a) => [a.name, a] as const))('on %s', (_name, adapter) => {
  let app: RunningApp;
  let replayer: MemoryReplayer;

  beforeEach(async () => {
    replayer = new MemoryReplayer(100);
    app = await adapter.start({ replayer, resetEvent: true, heartbeatMs: 0 }, async ({ sse }) => {
      await sse({ topics: ['t'] });
    });
    for (let n = 1; n <= 3; n++) await app.hub.broadcastTo('t', { data: `old ${n}` });
  });

  test.each([
    ['from another replayer', () => `${new MemoryReplayer().prefix}-1`],
    ['ahead of the newest', () => `${replayer.prefix}-50`],
    ['malformed', () => `${replayer.prefix}-0x1`],
    ['15,000 characters', () => 'z'.repeat(15_000)],
  ])('an id %s: 200, reset event, then live events', async (_what, make) => {
    const client = await connect(app.url, { 'last-event-id': make() });
    expect(client.status).toBe(200);
    const [first] = await client.waitForEvents(1);
    expect(first).toMatchObject({ event: RESET, data: 'gap' });
    await app.hub.broadcastTo('t', { data: 'live' });
    expect((await client.waitForEvents(2))[1]!.data).toBe('live');
    expect(app.logs).toEqual([]);
  });

  test('bytes that are not UTF-8: 200, reset event, then live events', async () => {
    const request = Buffer.concat([Buffer.from('GET /events HTTP/1.1\r\nHost: x\r\nLast-Event-ID: '), Buffer.from([0xc0, 0xaf, 0xff]), Buffer.from('\r\n\r\n')]);
    const raw = rawRequest(app.port, request);
    await rawWaitFor(raw, `event: ${RESET}`);
    await app.hub.broadcastTo('t', { data: 'live' });
    await rawWaitFor(raw, 'data: live');
    expect(app.logs).toEqual([]);
  });

  test('a good id replays exactly what was missed', async () => {
    const client = await connect(app.url, { 'last-event-id': `${replayer.prefix}-1` });
    const events = await client.waitForEvents(2);
    expect(events.map((e) => e.data)).toEqual(['old 2', 'old 3']);
  });
});

afterAll(() => {
  expect(heartbeatStats()).toEqual({ timers: 0, members: 0 });
});

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Hub, createConnection, type SseConnection } from '@ssekit/core';
import { rawRequest, type RawRequest } from '@ssekit/testkit';
import { streamRequest } from '@ssekit/harness/raw';
import { frameChunk } from '../src/shared-bytes';
import { PendingWrites } from '../src/pending';
import { Inbox, closeAll, deferred, parseWire, startServer, track, waitFor } from './helpers';

afterEach(closeAll);

interface Opened {
  conn: SseConnection;
  req: IncomingMessage;
  res: ServerResponse;
}

/** A server whose `/sse` requests become connections; any other path answers `ok`. */
async function serve(prepare?: (req: IncomingMessage, res: ServerResponse) => void) {
  const opened = new Inbox<Opened>();
  const server = await startServer((req, res) => {
    if (req.url !== '/sse') {
      res.end('ok');
      return;
    }
    prepare?.(req, res);
    opened.push({ conn: createConnection(req, res, { heartbeatMs: 0 }), req, res });
  });
  track(() => opened.items.forEach((o) => o.conn.close()));
  return { server, opened };
}

/** The body of a raw HTTP/1.1 response, after its head. */
const bodyOf = (raw: Buffer): Buffer => raw.subarray(raw.indexOf('\r\n\r\n') + 4);

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Opens a stream on a raw socket to a {@link serve} server and waits for the response head. */
async function openStream() {
  const { server, opened } = await serve();
  const raw = rawRequest(server.port, streamRequest('/sse'));
  const { conn } = await opened.next();
  await waitFor(() => raw.received().includes('\r\n\r\n'), 5000, 'response head');
  return { conn, raw };
}

/** Closes the stream and resolves with its body once the last chunk arrived. */
async function closeAndReadBody(conn: SseConnection, raw: RawRequest): Promise<string> {
  conn.close();
  await waitFor(() => raw.received().includes('0\r\n\r\n'), 5000, 'last chunk');
  return bodyOf(raw.received()).toString('latin1');
}

const chunk = (text: string): string => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;

describe('the Node HTTP/1.1 sink', () => {
  it('frames each write as one chunk of the body, ends with the last chunk, and the socket stays usable', async () => {
    const { conn, raw } = await openStream();
    await conn.send({ data: 'one', id: '1' });
    await nextTurn();
    await conn.send({ data: 'two\nlines' });
    await nextTurn();
    expect(await closeAndReadBody(conn, raw)).toBe(chunk('id: 1\ndata: one\n\n') + chunk('data: two\ndata: lines\n\n') + '0\r\n\r\n');
    // The stream ended cleanly: the same (kept-alive) socket serves the next request.
    const before = raw.received().length;
    raw.socket.write('GET /plain HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await waitFor(() => raw.received().subarray(before).includes('ok'), 5000, 'second response');
    expect(raw.received().subarray(before).toString('latin1')).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  });

  it('what is written in one tick leaves as one chunk, ahead of what the next tick writes', async () => {
    const { conn, raw } = await openStream();
    void conn.send({ data: 'a' });
    void conn.sendComment('b');
    void conn.send({ data: 'c' });
    await nextTurn();
    void conn.send({ data: 'd' });
    await nextTurn();
    expect(await closeAndReadBody(conn, raw)).toBe(chunk('data: a\n\n: b\ndata: c\n\n') + chunk('data: d\n\n') + '0\r\n\r\n');
  });

  it('a client that stops reading gets everything once it reads again, and its socket keeps no listener of the closed stream', async () => {
    const { server, opened } = await serve();
    const raw = rawRequest(server.port, streamRequest('/sse'), { pause: true });
    const { conn, req } = await opened.next();
    const socket = req.socket as Socket;
    const drainListeners = socket.listenerCount('drain');
    const payload = 'x'.repeat(64 * 1024);
    let sent = 0;
    let last: Promise<boolean> = Promise.resolve(true);
    // Fill the kernel's buffers and then Node's: the connection waits for a drain.
    while (socket.writableLength === 0 && sent < 2000) {
      last = conn.send({ data: payload });
      sent++;
      if (sent % 16 === 0) await nextTurn();
    }
    expect(socket.writableLength).toBeGreaterThan(0);
    expect(socket.listenerCount('drain')).toBe(drainListeners + 1);
    raw.socket.resume();
    await expect(last).resolves.toBe(true);
    await conn.send({ data: 'after', id: 'end' });
    await waitFor(() => raw.received().includes('id: end'), 10_000, 'the event after the drain');
    const events = parseWire(bodyOf(raw.received()).toString('latin1').replace(/\r\n[0-9a-f]+\r\n|^[0-9a-f]+\r\n/g, ''));
    expect(events.events).toHaveLength(sent + 1);
    await closeAndReadBody(conn, raw);
    expect(socket.listenerCount('drain')).toBe(drainListeners);
  });

  it('a response whose write is wrapped (compression, a byte counter) still gets every byte through the wrapper', async () => {
    const seen: string[] = [];
    const { server, opened } = await serve((_req, res) => {
      const write = res.write;
      res.write = function (this: ServerResponse, ...args: Parameters<ServerResponse['write']>) {
        seen.push(Buffer.from(args[0] as Uint8Array).toString('utf8'));
        return write.apply(this, args);
      } as ServerResponse['write'];
    });
    const raw = rawRequest(server.port, streamRequest('/sse'));
    const { conn } = await opened.next();
    await conn.send({ data: 'counted' });
    await waitFor(() => raw.received().includes('data: counted'), 5000, 'event');
    expect(seen).toContain('data: counted\n\n');
    expect(bodyOf(raw.received()).toString('latin1')).toContain(chunk('data: counted\n\n'));
  });

  it('an HTTP/1.0 client gets the events unframed, the body ending with the connection', async () => {
    const { server, opened } = await serve();
    const raw = rawRequest(server.port, 'GET /sse HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n');
    const { conn } = await opened.next();
    await conn.send({ data: 'plain' });
    conn.close();
    const response = await raw.response;
    expect(response.toString('latin1')).not.toMatch(/transfer-encoding/i);
    expect(bodyOf(response).toString('latin1')).toBe('data: plain\n\n');
  });

  it('a stream pipelined behind another response waits for it: its events come after that response', async () => {
    const first = deferred();
    const opened = new Inbox<Opened>();
    const server = await startServer((req, res) => {
      if (req.url === '/first') {
        void first.promise.then(() => res.end('first done'));
        return;
      }
      opened.push({ conn: createConnection(req, res, { heartbeatMs: 0 }), req, res: res });
    });
    track(() => opened.items.forEach((o) => o.conn.close()));
    const raw = rawRequest(server.port, 'GET /first HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' + streamRequest('/sse'));
    const { conn } = await opened.next();
    void conn.send({ data: 'early' });
    first.resolve();
    await waitFor(() => raw.received().includes('data: early'), 5000, 'the queued stream');
    const text = raw.received().toString('latin1');
    expect(text.indexOf('first done')).toBeGreaterThan(0);
    expect(text.indexOf('first done')).toBeLessThan(text.indexOf('text/event-stream'));
    expect(text.slice(text.indexOf('text/event-stream'))).toContain(chunk('data: early\n\n'));
  });
});

describe('shared bytes for a broadcast', () => {
  it('frameChunk frames a chunk once for every connection it goes to', () => {
    const bytes = Buffer.from('data: x\n\n');
    const framed = frameChunk(bytes);
    expect(framed.toString('latin1')).toBe('9\r\ndata: x\n\n\r\n');
    expect(frameChunk(bytes)).toBe(framed);
    const other = Buffer.from('data: x\n\n');
    expect(frameChunk(other)).not.toBe(framed);
    expect(frameChunk(other).equals(framed)).toBe(true);
    expect(frameChunk(Buffer.alloc(300, 97)).toString('latin1', 0, 5)).toBe('12c\r\n');
  });

  it('held writes join to one shared buffer when they are the same broadcasts, and to their own otherwise', () => {
    const [a, b, c] = ['data: a\n\n', 'data: b\n\n', 'data: c\n\n'].map((s) => Buffer.from(s));
    const take = (...parts: Buffer[]): Uint8Array => {
      const held = new PendingWrites();
      for (const part of parts) held.push(part);
      return held.take();
    };
    const first = take(a!, b!);
    const same = take(a!, b!);
    const different = take(a!, c!);
    expect(same).toBe(first);
    expect(Buffer.from(first).toString()).toBe('data: a\n\ndata: b\n\n');
    expect(Buffer.from(different).toString()).toBe('data: a\n\ndata: c\n\n');
    // A conflated queue (with a replaced event) joins what it kept.
    const conflated = new PendingWrites();
    conflated.push(a!, 'k');
    conflated.push(b!);
    conflated.push(c!, 'k');
    expect(Buffer.from(conflated.take()).toString()).toBe('data: b\n\ndata: c\n\n');
  });

  it('connections in one window get their own topics’ events, in order', async () => {
    const hub = new Hub();
    track(() => hub.close());
    const server = await startServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const conn = createConnection(req, res, { heartbeatMs: 0, coalesceMs: 30 });
      hub.register(conn);
      for (const topic of url.searchParams.getAll('t')) hub.subscribe(conn, topic);
    });
    const clients = [['t1', 't2'], ['t1', 't3'], ['t1', 't2']].map((topics) => rawRequest(server.port, streamRequest(`/?${topics.map((t) => `t=${t}`).join('&')}`)));
    await waitFor(() => hub.connectionCount() === 3, 5000, 'three streams');
    hub.broadcastTo('t1', { data: 'e1' });
    hub.broadcastTo('t2', { data: 'e2' });
    hub.broadcastTo('t3', { data: 'e3' });
    hub.broadcastTo('t1', { data: 'e4' });
    const dataOf = (raw: (typeof clients)[number]): string[] => [...bodyOf(raw.received()).toString('latin1').matchAll(/^data: (.*)$/gm)].map((m) => m[1]!);
    await waitFor(() => clients.every((raw) => dataOf(raw).length === 3), 5000, 'three events each');
    expect(clients.map(dataOf)).toEqual([
      ['e1', 'e2', 'e4'],
      ['e1', 'e3', 'e4'],
      ['e1', 'e2', 'e4'],
    ]);
  });
});

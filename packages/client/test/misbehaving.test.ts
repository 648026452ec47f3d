/**
 * @ssekit/client against small `node:http` servers that misbehave on purpose: a stream that
 * stalls without closing, refusals with `Retry-After`, 204, 401, a drop in the middle of an
 * event, a page instead of a stream, a server that is not there.
 */
import type * as http from 'node:http';
import { activeResources, closeAll, startServer, waitFor } from '@ssekit/testkit';
import { openStream, rawServer, record, take } from './helpers';

afterEach(closeAll);

/** Writes `text` to an open stream response. */
const write = (res: http.ServerResponse, text: string): void => void res.write(text);

describe('a stream that stops delivering', () => {
  it('stalls without closing: the heartbeat watchdog reconnects with the last id', async () => {
    const server = await rawServer((_req, res, n) => {
      openStream(res);
      // The first response sends one event and then nothing, holding the socket open.
      write(res, n === 0 ? 'id: 1\ndata: before the stall\n\n' : 'id: 2\ndata: after\n\n');
    });
    const rec = record(server.url, { heartbeatTimeoutMs: 300, retry: { initialMs: 10 } });
    expect((await rec.messages.next()).data).toBe('before the stall');
    const { error, info } = await rec.errors.next(3000);
    expect(error).toMatchObject({ code: 'timeout', message: 'No data for 300 ms' });
    expect(info.willRetry).toBe(true);
    expect((await rec.messages.next()).data).toBe('after');
    const [first, second] = await take(server.requests, 2);
    expect(first!.headers['last-event-id']).toBeUndefined();
    expect(second!.headers['last-event-id']).toBe('1');
    // The stalled socket was given up by the client.
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(300);
  });

  it('keeps a stream that only sends heartbeat comments', async () => {
    const timers: NodeJS.Timeout[] = [];
    const server = await rawServer((_req, res) => {
      openStream(res);
      timers.push(setInterval(() => write(res, ': heartbeat\n\n'), 50));
      res.on('close', () => timers.forEach(clearInterval));
    });
    // A comment every 50 ms against a 1 s watchdog: only a stall of the whole process of most
    // of a second (a loaded machine) could fire it, while a watchdog that comments do not
    // reset fires at 1 s whatever the load.
    const rec = record(server.url, { heartbeatTimeoutMs: 1000 });
    await rec.opens.next();
    // Three watchdog periods of comments: no reconnect.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(rec.errors.pending).toBe(0);
    expect(server.requests.items).toHaveLength(1);
  });

  it('drops mid-event: resumes after the last complete event, nothing lost and nothing twice', async () => {
    const server = await rawServer((req, res, n) => {
      openStream(res);
      if (n === 0) {
        write(res, 'id: 1\ndata: a\n\nid: 2\ndata: b\n\nid: 3\ndata: c'); // event 3 is cut off
        setTimeout(() => res.socket?.destroy(), 20);
      } else {
        // What a server replays after the id it was sent.
        const after = Number(req.headers['last-event-id']);
        for (let id = after + 1; id <= 4; id++) write(res, `id: ${id}\ndata: ${'abcd'[id - 1]}\n\n`);
      }
    });
    const rec = record(server.url, { retry: { initialMs: 10 } });
    const messages = await take(rec.messages, 4);
    expect(messages.map((m) => [m.id, m.data])).toEqual([
      ['1', 'a'],
      ['2', 'b'],
      ['3', 'c'],
      ['4', 'd'],
    ]);
    expect((await take(server.requests, 2))[1]!.headers['last-event-id']).toBe('2');
    expect((await rec.errors.next()).error.code).toBe('network');
  });

  it("reconnects after the server ends the stream, at the server's retry: base", async () => {
    const server = await rawServer((_req, res, n) => {
      openStream(res);
      write(res, n === 0 ? 'retry: 400\nid: 9\ndata: first\n\n' : 'data: second\n\n');
      if (n === 0) res.end();
    });
    const rec = record(server.url, { retry: { initialMs: 5, jitter: 0.5 } });
    expect((await rec.messages.next()).data).toBe('first');
    const { error, info } = await rec.errors.next();
    expect(error.code).toBe('ended');
    // Half of the 400 ms base is random: 200 to 400 ms.
    expect(info.delayMs).toBeGreaterThanOrEqual(200);
    expect(info.delayMs).toBeLessThanOrEqual(400);
    expect((await rec.messages.next()).data).toBe('second');
    const [first, second] = await take(server.requests, 2);
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(info.delayMs! - 5);
  });
});

describe('refusals', () => {
  it('503 x 3 then 200: waits for Retry-After (seconds or an HTTP date) before each retry', async () => {
    const retryAfter = ['1', () => new Date(Date.now() + 2000).toUTCString(), undefined];
    const server = await rawServer((_req, res, n) => {
      const value = retryAfter[n];
      if (n < 3) {
        res.writeHead(503, value === undefined ? {} : { 'retry-after': typeof value === 'function' ? value() : value });
        res.end('busy');
        return;
      }
      openStream(res);
      write(res, 'data: in\n\n');
    });
    const rec = record(server.url, { retry: { initialMs: 50, maxMs: 10_000 } });
    const errors = await take(rec.errors, 3, 10_000);
    expect(errors.map(({ error }) => [error.code, error.status, error.body])).toEqual([
      ['status', 503, 'busy'],
      ['status', 503, 'busy'],
      ['status', 503, 'busy'],
    ]);
    expect(errors.every(({ info }) => info.willRetry && !info.fatal)).toBe(true);
    expect(errors.map(({ info }) => info.attempt)).toEqual([1, 2, 3]);
    expect((await rec.messages.next(10_000)).data).toBe('in');
    const at = (await take(server.requests, 4)).map((r) => r.at);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(1000);
    // An HTTP date has a one-second resolution: at least a second of the two.
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(1000);
    // No Retry-After: the backoff alone (third failure in a row: 50 x 2^2 = 200 ms, half random).
    expect(errors[2]!.info.delayMs).toBeGreaterThanOrEqual(100);
    expect(errors[2]!.info.delayMs).toBeLessThanOrEqual(200);
  }, 20_000);

  it('a refusal whose body never ends: the error keeps its first 64 KiB, and the retry goes on', async () => {
    const server = await rawServer((_req, res, n) => {
      if (n > 0) {
        openStream(res);
        return write(res, 'data: back\n\n');
      }
      res.writeHead(500, { 'content-type': 'text/plain' });
      const flood = setInterval(() => write(res, 'x'.repeat(16_384)), 5);
      res.on('close', () => clearInterval(flood));
    });
    const rec = record(server.url, { retry: { initialMs: 10 } });
    const { error, info } = await rec.errors.next(5000);
    expect(error).toMatchObject({ code: 'status', status: 500 });
    expect(error.body).toBe('x'.repeat(65_536));
    expect(info.willRetry).toBe(true);
    expect((await rec.messages.next()).data).toBe('back');
  });

  it('429 is retried like a 503', async () => {
    const server = await rawServer((_req, res, n) => {
      if (n === 0) return void res.writeHead(429, { 'retry-after': '0' }).end();
      openStream(res);
      write(res, 'data: ok\n\n');
    });
    const rec = record(server.url, { retry: { initialMs: 10 } });
    expect((await rec.errors.next()).error.status).toBe(429);
    expect((await rec.messages.next()).data).toBe('ok');
  });

  /** Waits until the process holds no more timers than `baseline` did: the stream let go of its own. */
  const timersBackTo = (baseline: Record<string, number>) =>
    waitFor(() => (activeResources()['Timeout'] ?? 0) <= (baseline['Timeout'] ?? 0), 2000, 'the stream to clear its timers');

  it('204: done, then closed, never requested again', async () => {
    const server = await rawServer((_req, res) => void res.writeHead(204).end());
    const baseline = activeResources();
    const rec = record(server.url, { retry: { initialMs: 1 } });
    expect(await rec.done.next()).toEqual({ status: 204 });
    expect(await rec.closes.next()).toEqual({ reason: 'done', error: undefined });
    await rec.iteration;
    await timersBackTo(baseline);
    expect(rec.stream.state).toBe('closed');
    expect(rec.errors.pending).toBe(0);
    // A retry would have come within a few milliseconds.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(server.requests.items).toHaveLength(1);
  });

  it('401: an error with the status and the body, no retry, the iterator throws it', async () => {
    const server = await rawServer((_req, res) => void res.writeHead(401, 'Unauthorized', { 'content-type': 'text/plain' }).end('token expired'));
    const baseline = activeResources();
    const rec = record(server.url, { retry: { initialMs: 1 } });
    const { error, info } = await rec.errors.next();
    expect(error).toMatchObject({ name: 'SseClientError', code: 'status', status: 401, body: 'token expired', message: 'The server answered 401 Unauthorized' });
    expect(info).toEqual({ willRetry: false, fatal: true, delayMs: undefined, attempt: 1 });
    expect(await rec.closes.next()).toEqual({ reason: 'error', error });
    await expect(rec.iteration).rejects.toBe(error);
    await timersBackTo(baseline);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(server.requests.items).toHaveLength(1);
  });

  it('a 200 that is not text/event-stream: an error, no retry', async () => {
    const server = await rawServer((_req, res) => void res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<h1>Login</h1>'));
    const rec = record(server.url, { retry: { initialMs: 1 } });
    const { error, info } = await rec.errors.next();
    expect(error).toMatchObject({ code: 'content-type', status: 200, body: '<h1>Login</h1>' });
    expect(error.message).toBe('Expected text/event-stream, got text/html; charset=utf-8');
    expect(info.fatal).toBe(true);
    expect((await rec.closes.next()).reason).toBe('error');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(server.requests.items).toHaveLength(1);
  });

  it('accepts text/event-stream with parameters and in any case', async () => {
    const server = await rawServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'Text/Event-Stream ; charset=UTF-8' });
      res.write('data: fine\n\n');
    });
    const rec = record(server.url);
    expect((await rec.messages.next()).data).toBe('fine');
  });
});

describe('network errors', () => {
  it('keeps retrying a server that is not there, and connects once it is', async () => {
    // Reserve a port, then free it: nothing listens there until the test starts a server.
    const probe = await startServer(() => {});
    const port = probe.port;
    await probe.close();
    const rec = record(`http://127.0.0.1:${port}/events`, { retry: { initialMs: 20, maxMs: 100 } });
    const [refused] = await take(rec.errors, 2);
    expect(refused!.error.code).toBe('network');
    expect(refused!.info.willRetry).toBe(true);

    const { createServer } = await import('node:http');
    const server = createServer((_req, res) => {
      openStream(res);
      res.write('data: up\n\n');
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    try {
      expect((await rec.messages.next(5000)).data).toBe('up');
      expect(rec.stream.state).toBe('open');
    } finally {
      rec.stream.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

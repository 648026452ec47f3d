/**
 * A recording event-stream client for the contract suite: node:http plus eventsource-parser,
 * so a test can send any header, see comments and `retry:` fields, and read gzip bodies.
 * Every wait is bounded: a test fails with a message instead of hanging.
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import net from 'node:net';
import zlib from 'node:zlib';
import { createParser, type EventSourceMessage } from 'eventsource-parser';

export type { EventSourceMessage };

/** Resolves once `check` holds, polling every few milliseconds; rejects after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 2000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** A comment line the client saw, with its arrival time. */
export interface SeenComment {
  text: string;
  at: number;
}

/** One open event stream as a test sees it. */
export interface SseClient {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Every event received so far, in order. */
  readonly events: EventSourceMessage[];
  readonly comments: SeenComment[];
  readonly retries: number[];
  /** True once the server ended the stream or the socket closed. */
  readonly ended: boolean;
  /** The next event not yet returned by `next()`; rejects after `timeoutMs`. */
  next(timeoutMs?: number): Promise<EventSourceMessage>;
  /** The next `n` events. */
  take(n: number, timeoutMs?: number): Promise<EventSourceMessage[]>;
  /** Resolves once the stream has ended; rejects after `timeoutMs`. */
  waitEnd(timeoutMs?: number): Promise<void>;
  /** Drops the connection (idempotent). */
  close(): void;
}

/** A plain (non-stream) response. */
export interface PlainResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function request(url: string, headers: Record<string, string>): { req: http.ClientRequest; response: Promise<http.IncomingMessage> } {
  // agent: false gives every request its own socket, so closing one never affects another.
  const req = http.get(url, { agent: false, headers });
  const response = new Promise<http.IncomingMessage>((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
  });
  return { req, response };
}

/** Sends a GET and reads the whole body: for refused requests and error responses. */
export async function fetchPlain(url: string, headers: Record<string, string> = {}): Promise<PlainResponse> {
  const { req, response } = request(url, headers);
  const res = await response;
  const chunks: Buffer[] = [];
  const ended = new Promise<void>((resolve, reject) => {
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.once('end', resolve);
    res.once('error', reject);
  });
  const timer = setTimeout(() => req.destroy(new Error('response body did not end')), 2000);
  try {
    await ended;
  } finally {
    clearTimeout(timer);
    req.destroy();
  }
  return { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') };
}

/**
 * Opens an event stream and resolves once the response headers arrived. A gzip body (the
 * client may send `Accept-Encoding: gzip`) is decompressed as it streams.
 */
export async function connect(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const { req, response } = request(url, { Accept: 'text/event-stream', ...headers });
  const timer = setTimeout(() => req.destroy(new Error('no response headers')), 2000);
  let res: http.IncomingMessage;
  try {
    res = await response;
  } finally {
    clearTimeout(timer);
  }

  const events: EventSourceMessage[] = [];
  const comments: SeenComment[] = [];
  const retries: number[] = [];
  let cursor = 0;
  let ended = false;
  const changed = new Set<() => void>();
  const notify = (): void => {
    for (const wake of [...changed]) wake();
  };

  const parser = createParser({
    onEvent: (event) => {
      events.push(event);
      notify();
    },
    onComment: (text) => {
      comments.push({ text, at: Date.now() });
      notify();
    },
    onRetry: (ms) => {
      retries.push(ms);
      notify();
    },
  });

  const encoding = res.headers['content-encoding'];
  const body: NodeJS.ReadableStream =
    encoding === 'gzip' ? res.pipe(zlib.createGunzip({ flush: zlib.constants.Z_SYNC_FLUSH })) : res;
  if (encoding !== undefined && encoding !== 'gzip' && encoding !== 'identity') {
    throw new Error(`unexpected content-encoding ${encoding}`);
  }
  body.setEncoding('utf8');
  body.on('data', (chunk: string) => parser.feed(chunk));
  const finish = (): void => {
    ended = true;
    notify();
  };
  body.once('end', finish);
  body.once('error', finish);
  res.once('close', finish);
  req.once('error', finish);

  /** Waits (bounded) until `ready()` returns a value. */
  const until = <T>(ready: () => T | undefined, timeoutMs: number, what: string): Promise<T> => {
    const now = ready();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise<T>((resolve, reject) => {
      const wake = (): void => {
        const value = ready();
        if (value === undefined) return;
        changed.delete(wake);
        clearTimeout(timer);
        resolve(value);
      };
      const timer = setTimeout(() => {
        changed.delete(wake);
        reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what} (got ${JSON.stringify(events)})`));
      }, timeoutMs);
      changed.add(wake);
    });
  };

  return {
    status: res.statusCode ?? 0,
    headers: res.headers,
    events,
    comments,
    retries,
    get ended() {
      return ended;
    },
    next(timeoutMs = 2000) {
      return until(() => (cursor < events.length ? events[cursor++] : undefined), timeoutMs, 'the next event');
    },
    async take(n, timeoutMs = 2000) {
      await until(() => (events.length - cursor >= n ? true : undefined), timeoutMs, `${n} events`);
      const taken = events.slice(cursor, cursor + n);
      cursor += n;
      return taken;
    },
    async waitEnd(timeoutMs = 2000) {
      await until(() => (ended ? true : undefined), timeoutMs, 'the end of the stream');
    },
    close() {
      req.destroy();
      res.destroy();
    },
  };
}

/**
 * A client that sends a stream request and then never reads: its socket buffers fill up.
 * `reset()` drops it with a TCP reset instead of an orderly close.
 */
export async function connectStalled(url: string): Promise<{ close(): void; reset(): void }> {
  const { hostname, port, pathname, search } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => {});
  socket.write(`GET ${pathname}${search} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAccept: text/event-stream\r\n\r\n`);
  socket.pause();
  return { close: () => socket.destroy(), reset: () => socket.resetAndDestroy() };
}

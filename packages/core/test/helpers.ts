/**
 * Shared plumbing for the core tests: real servers on port 0, a recording SSE client that
 * awaits each expected message with a bound (never sleep-and-hope), a literal reading of the
 * WHATWG event-stream interpretation for last-event-id checks, and a fake connection.
 */
import * as http from 'node:http';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { CloseListener, CloseReason, Connection, OpenOptions, PipeItem, SseEvent, SseOptions } from '@ssekit/core';
import { SseClosedError, SseHttpError, createSseHandler } from '@ssekit/core';

/** Rejects with a readable message when `promise` does not settle within `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what = 'operation'): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** Resolves once `predicate` holds, checking after every turn of the event loop; bounded. */
export async function waitFor(predicate: () => boolean, ms: number, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** A promise with its resolve function outside. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** A queue whose `next()` waits (bounded) for the next pushed item. */
export class Inbox<T> {
  readonly items: T[] = [];
  private read = 0;
  private waiter: (() => void) | undefined;

  push(item: T): void {
    this.items.push(item);
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  /** Items pushed but not yet taken by {@link Inbox.next}. */
  get pending(): number {
    return this.items.length - this.read;
  }

  async next(timeoutMs = 2000, what = 'item'): Promise<T> {
    while (this.read >= this.items.length) {
      await withTimeout(new Promise<void>((resolve) => (this.waiter = resolve)), timeoutMs, what);
    }
    return this.items[this.read++]!;
  }
}

/** Everything that must be closed after a test. */
const cleanups: (() => unknown)[] = [];

/** Registers a cleanup that {@link closeAll} runs (in reverse order). */
export function track(cleanup: () => unknown): void {
  cleanups.push(cleanup);
}

/** Closes every client and server opened in this file. Call it in `afterEach`. */
export async function closeAll(): Promise<void> {
  while (cleanups.length > 0) {
    const cleanup = cleanups.pop()!;
    try {
      await cleanup();
    } catch {
      // Closing something already gone is fine.
    }
  }
}

export interface TestServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Starts a `node:http` server on port 0. */
export async function startServer(handler: http.RequestListener): Promise<TestServer & { server: http.Server }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = async (): Promise<void> => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  track(close);
  return { url: `http://127.0.0.1:${port}`, port, server, close };
}

/** Starts a cleartext HTTP/2 (h2c) server on port 0, using the compatibility API. */
export async function startH2Server(
  handler: (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
): Promise<TestServer & { server: http2.Http2Server }> {
  const server = http2.createServer(handler);
  const sessions = new Set<http2.Http2Session>();
  server.on('session', (session: http2.Http2Session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = async (): Promise<void> => {
    for (const session of sessions) session.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  track(close);
  return { url: `http://127.0.0.1:${port}`, port, server, close };
}

/**
 * A server whose every request is opened through one shared handler (as the adapters do).
 * A refusal is answered with its status, headers and message, as a framework would.
 */
export async function handlerServer(
  options: SseOptions,
  perRequest: (url: URL, req: http.IncomingMessage) => OpenOptions = () => ({}),
  ipOf?: (req: http.IncomingMessage) => string | undefined,
) {
  const handler = createSseHandler(options);
  const opened = new Inbox<Connection>();
  const refused = new Inbox<unknown>();
  const server = await startServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const context = ipOf ? { request: req, ip: ipOf(req) } : undefined;
    handler.open(req, res, perRequest(url, req), context).then(
      (conn) => opened.push(conn),
      (error: unknown) => {
        refused.push(error);
        // Nothing may have been written before a refusal.
        const status = res.headersSent ? 599 : error instanceof SseHttpError ? error.status : 500;
        res.writeHead(status, error instanceof SseHttpError ? error.headers : {}).end(error instanceof Error ? error.message : String(error));
      },
    );
  });
  track(() => handler.close());
  return { handler, opened, refused, server };
}

/** One SSE client connection, recording what it receives. */
export interface SseRecorder {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Every byte received, decoded as UTF-8. */
  readonly text: string;
  readonly events: Inbox<EventSourceMessage>;
  readonly comments: Inbox<string>;
  readonly retries: Inbox<number>;
  /** Resolves when the response ends or the connection drops. */
  readonly ended: Promise<void>;
  nextEvent(timeoutMs?: number): Promise<EventSourceMessage>;
  nextComment(timeoutMs?: number): Promise<string>;
  nextRetry(timeoutMs?: number): Promise<number>;
  /** Drops the connection from the client side. */
  destroy(): void;
}

function recorder(): {
  rec: Omit<SseRecorder, 'status' | 'headers' | 'destroy' | 'ended' | 'text'>;
  feed: (chunk: Uint8Array) => void;
  text: () => string;
} {
  const events = new Inbox<EventSourceMessage>();
  const comments = new Inbox<string>();
  const retries = new Inbox<number>();
  const parser = createParser({
    onEvent: (event) => events.push(event),
    onComment: (comment) => comments.push(comment),
    onRetry: (retry) => retries.push(retry),
  });
  const decoder = new TextDecoder();
  let text = '';
  return {
    rec: {
      events,
      comments,
      retries,
      nextEvent: (ms = 2000) => events.next(ms, 'an event'),
      nextComment: (ms = 2000) => comments.next(ms, 'a comment'),
      nextRetry: (ms = 2000) => retries.next(ms, 'a retry field'),
    },
    feed: (chunk) => {
      const decoded = decoder.decode(chunk, { stream: true });
      text += decoded;
      parser.feed(decoded);
    },
    text: () => text,
  };
}

/** Opens an SSE request over HTTP/1.1 and resolves once the response headers arrived. */
export function connect(url: string, headers: http.OutgoingHttpHeaders = {}): Promise<SseRecorder> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { headers: { Accept: 'text/event-stream', ...headers }, agent: false });
    const { rec, feed, text } = recorder();
    const ended = deferred();
    req.on('error', (error) => {
      ended.resolve();
      reject(error);
    });
    req.on('close', () => ended.resolve());
    req.on('response', (res) => {
      res.on('data', feed);
      res.on('end', () => ended.resolve());
      res.on('error', () => ended.resolve());
      const client: SseRecorder = {
        ...rec,
        status: res.statusCode ?? 0,
        headers: res.headers,
        get text() {
          return text();
        },
        ended: ended.promise,
        destroy: () => req.destroy(),
      };
      track(() => req.destroy());
      resolve(client);
    });
    req.end();
  });
}

/** Opens an SSE request over cleartext HTTP/2 and resolves once the response headers arrived. */
export function connectH2(url: string, path = '/', headers: http2.OutgoingHttpHeaders = {}): Promise<SseRecorder> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url);
    track(() => session.destroy());
    session.on('error', reject);
    const stream = session.request({ ':path': path, accept: 'text/event-stream', ...headers });
    const { rec, feed, text } = recorder();
    const ended = deferred();
    stream.on('error', () => ended.resolve());
    stream.on('close', () => ended.resolve());
    stream.on('end', () => ended.resolve());
    stream.on('data', feed);
    stream.on('response', (responseHeaders) => {
      const client: SseRecorder = {
        ...rec,
        status: Number(responseHeaders[':status']),
        headers: responseHeaders as Record<string, string | string[] | undefined>,
        get text() {
          return text();
        },
        ended: ended.promise,
        destroy: () => session.destroy(),
      };
      resolve(client);
    });
  });
}

/** A plain (non-SSE) response: status, headers and body. */
export function request(url: string, headers: http.OutgoingHttpHeaders = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    track(() => req.destroy());
    req.end();
  });
}

/** What the WHATWG algorithm dispatches: the `MessageEvent` fields a browser exposes. */
export interface SpecMessage {
  type: string;
  data: string;
  lastEventId: string;
}

/**
 * A literal reading of "Interpreting an event stream" (WHATWG HTML), used where a test needs the
 * last-event-id buffer, which survives events that do not fire.
 * https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 */
export function interpretStream(stream: string): { messages: SpecMessage[]; lastEventId: string; retry: number | undefined } {
  const messages: SpecMessage[] = [];
  let data = '';
  let type = '';
  let lastEventIdBuffer = '';
  let lastEventId = '';
  let retry: number | undefined;
  const text = stream.startsWith('\uFEFF') ? stream.slice(1) : stream;
  // Only complete lines are interpreted: a trailing partial line is still on its way.
  const lines = text.split(/\r\n|\r|\n/);
  lines.pop();
  for (const line of lines) {
    if (line === '') {
      lastEventId = lastEventIdBuffer;
      if (data === '') {
        type = '';
        continue;
      }
      if (data.endsWith('\n')) data = data.slice(0, -1);
      messages.push({ type: type || 'message', data, lastEventId });
      data = '';
      type = '';
      continue;
    }
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') type = value;
    else if (field === 'data') data += value + '\n';
    else if (field === 'id') {
      if (!value.includes('\0')) lastEventIdBuffer = value;
    } else if (field === 'retry') {
      if (/^[0-9]+$/.test(value)) retry = Number(value);
    }
  }
  return { messages, lastEventId, retry };
}

/** Parses complete wire text with eventsource-parser and returns everything it reported. */
export function parseWire(wire: string | Uint8Array): {
  events: EventSourceMessage[];
  comments: string[];
  retries: number[];
  errors: Error[];
} {
  const out = { events: [] as EventSourceMessage[], comments: [] as string[], retries: [] as number[], errors: [] as Error[] };
  const parser = createParser({
    onEvent: (event) => out.events.push(event),
    onComment: (comment) => out.comments.push(comment),
    onRetry: (retry) => out.retries.push(retry),
    onError: (error) => out.errors.push(error),
  });
  parser.feed(typeof wire === 'string' ? wire : Buffer.from(wire).toString('utf8'));
  return out;
}

/**
 * A connection without a transport: records the bytes a broadcaster hands it. `failWith` makes
 * its writes throw; `closeOnWrite` makes it close as `slow` on the next write.
 */
export class FakeConnection implements Connection {
  readonly writes: { bytes: Uint8Array; id: string | undefined }[] = [];
  readonly lastEventId: string | undefined = undefined;
  readonly bufferedBytes = 0;
  failWith: Error | undefined;
  closeOnWrite = false;
  private reason: CloseReason | undefined;
  private listeners: CloseListener[] = [];
  private readonly controller = new AbortController();
  private gap = false;

  get closed(): boolean {
    return this.reason !== undefined;
  }
  get closeReason(): CloseReason | undefined {
    return this.reason;
  }
  get signal(): AbortSignal {
    return this.controller.signal;
  }
  get replayGap(): boolean {
    return this.gap;
  }
  /** Everything written, as text. */
  get text(): string {
    return this.writes.map((w) => Buffer.from(w.bytes).toString('utf8')).join('');
  }
  send(_event: SseEvent): Promise<void> {
    return Promise.reject(new Error('not used'));
  }
  sendComment(): Promise<void> {
    return Promise.reject(new Error('not used'));
  }
  setRetry(): Promise<void> {
    return Promise.reject(new Error('not used'));
  }
  pipe(_source: AsyncIterable<PipeItem> | Iterable<PipeItem>): Promise<void> {
    return Promise.reject(new Error('not used'));
  }
  writeEncoded(bytes: Uint8Array, id?: string): boolean {
    if (this.failWith) throw this.failWith;
    if (this.reason !== undefined) return false;
    if (this.closeOnWrite) {
      this.end('slow');
      return false;
    }
    this.writes.push({ bytes, id });
    return true;
  }
  hold(): void {}
  release(): void {}
  markReplayGap(): void {
    this.gap = true;
  }
  close(): void {
    this.end('server');
  }
  /** Closes with any reason, as a transport would. */
  end(reason: CloseReason): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    this.controller.abort(new SseClosedError(reason));
    const listeners = this.listeners;
    this.listeners = [];
    for (const listener of listeners) listener(reason, this);
  }
  closedPromise(): Promise<CloseReason> {
    return this.reason !== undefined ? Promise.resolve(this.reason) : new Promise((resolve) => this.onClose(resolve));
  }
  onClose(listener: CloseListener): void {
    if (this.reason !== undefined) listener(this.reason, this);
    else this.listeners.push(listener);
  }
  offClose(listener: CloseListener): void {
    this.listeners = this.listeners.filter((l) => l !== listener);
  }
  /** Number of close listeners still attached (to check that the hub let go). */
  get listenerCount(): number {
    return this.listeners.length;
  }
}

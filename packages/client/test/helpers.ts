/**
 * Plumbing for the client's Node tests: real ssekit servers and small hand-written ones on port
 * 0, every request they see, and a recorder that turns a stream's events into bounded waits.
 * Everything opened here is closed by `closeAll()` (the test kit's cleanup registry).
 */
import type * as http from 'node:http';
import { createSseHandler, MemoryReplayer, SseHttpError, type Connection, type SseOptions } from '@ssekit/core';
import {
  connect,
  type CloseInfo,
  type ConnectOptions,
  type DoneInfo,
  type ErrorInfo,
  type EventMap,
  type EventStream,
  type GapInfo,
  type OpenInfo,
  type SseClientError,
  type SseMessage,
} from '@ssekit/client';
import { Inbox, startServer, track } from '@ssekit/testkit';

/** One request a test server received. */
export interface SeenRequest {
  method: string;
  url: URL;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += String(chunk);
  return body;
}

/**
 * A real ssekit server: `createSseHandler` on `node:http` with a `MemoryReplayer` and the reset
 * event on. `?topic=` subscribes to topics. Refusals are answered with their status.
 */
export async function ssekitServer(options: SseOptions = {}) {
  const replayer = new MemoryReplayer(1000);
  const handler = createSseHandler({ replayer, resetEvent: true, ...options });
  const requests = new Inbox<SeenRequest>();
  const connections = new Inbox<Connection>();
  const server = await startServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    void readBody(req).then(async (body) => {
      requests.push({ method: req.method ?? '', url, headers: req.headers, body, at: Date.now() });
      try {
        connections.push(await handler.open(req, res, { topics: url.searchParams.getAll('topic') }));
      } catch (error) {
        const status = error instanceof SseHttpError ? error.status : 500;
        res.writeHead(status, error instanceof SseHttpError ? error.headers : {}).end(String(error));
      }
    });
  });
  track(() => handler.close());
  return { url: `${server.url}/events`, base: server.url, handler, hub: handler.hub, replayer, requests, connections, server };
}

/**
 * A hand-written server: `respond` gets each request, numbered from 0, to misbehave as a test
 * needs. Open sockets are destroyed at cleanup.
 */
export async function rawServer(respond: (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void) {
  const requests = new Inbox<SeenRequest>();
  let n = 0;
  const server = await startServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const index = n++;
    void readBody(req).then((body) => {
      requests.push({ method: req.method ?? '', url, headers: req.headers, body, at: Date.now() });
      respond(req, res, index);
    });
  });
  return { url: `${server.url}/events`, requests, server };
}

/** Opens an event-stream response with the usual headers. */
export function openStream(res: http.ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  res.flushHeaders();
}

/** What a stream reported, each kind in its own bounded queue. */
export interface Recorded<E extends EventMap> {
  readonly stream: EventStream<E>;
  /** Server events, from the async iterator. */
  readonly messages: Inbox<SseMessage<E>>;
  readonly opens: Inbox<OpenInfo>;
  readonly errors: Inbox<{ error: SseClientError; info: ErrorInfo }>;
  readonly gaps: Inbox<GapInfo>;
  readonly done: Inbox<DoneInfo>;
  readonly closes: Inbox<CloseInfo>;
  /** Resolves when the iterator ends; rejects with what it threw. */
  readonly iteration: Promise<void>;
}

/** Connects and records everything the stream reports; the stream is closed at cleanup. */
export function record<E extends EventMap = Record<string, unknown>>(url: string, options?: ConnectOptions): Recorded<E> {
  const stream = connect<E>(url, options);
  track(() => stream.close());
  const messages = new Inbox<SseMessage<E>>();
  const opens = new Inbox<OpenInfo>();
  const errors = new Inbox<{ error: SseClientError; info: ErrorInfo }>();
  const gaps = new Inbox<GapInfo>();
  const done = new Inbox<DoneInfo>();
  const closes = new Inbox<CloseInfo>();
  stream
    .on('open', (info) => opens.push(info))
    .on('error', (error, info) => errors.push({ error, info }))
    .on('gap', (info) => gaps.push(info))
    .on('done', (info) => done.push(info))
    .on('close', (info) => closes.push(info));
  const iteration = (async () => {
    for await (const message of stream) messages.push(message);
  })();
  iteration.catch(() => {}); // tests that expect a rejection await it themselves
  return { stream, messages, opens, errors, gaps, done, closes, iteration };
}

/** The next `count` items of an inbox. */
export async function take<T>(inbox: Inbox<T>, count: number, timeoutMs = 5000, what = 'items'): Promise<T[]> {
  const items: T[] = [];
  for (let i = 0; i < count; i++) items.push(await inbox.next(timeoutMs, `${what} (${i + 1} of ${count})`));
  return items;
}

/**
 * Plumbing for the reliability tests: servers on port 0 that are always closed, an SSE client
 * that records events and awaits them with a bound, and raw-socket requests for bytes that
 * `node:http` refuses to send.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { createSseHandler, type Connection, type OpenOptions, type SseHandler, type SseOptions } from '@ssekit/core';

// The bounded waits and the cleanup registry are the core suite's own.
import { closeAll, track as onCleanup, waitFor, withTimeout } from '../../packages/core/test/helpers';

export { closeAll, onCleanup, waitFor, withTimeout };

/** Listens on 127.0.0.1, port 0; the server is closed (connections too) by {@link closeAll}. */
export async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return (server.address() as AddressInfo).port;
}

/** A plain `node:http` server on the shared core handler, the way the README shows it. */
export interface CoreServer {
  port: number;
  handler: SseHandler;
  /** Every connection opened, in order. */
  connections: Connection[];
  /** Every error `open()` rejected with. */
  errors: unknown[];
}

/**
 * Starts a core server: `GET /events?topic=...` opens a stream on those topics. `open` may
 * replace what a request does with its connection.
 */
export async function startCoreServer(
  options: SseOptions = {},
  openOptions: (req: http.IncomingMessage) => OpenOptions = (req) => ({
    topics: new URL(req.url ?? '/', 'http://localhost').searchParams.getAll('topic'),
  }),
): Promise<CoreServer> {
  const handler = createSseHandler(options);
  const state: CoreServer = { port: 0, handler, connections: [], errors: [] };
  const server = http.createServer((req, res) => {
    handler.open(req, res, openOptions(req)).then(
      (connection) => state.connections.push(connection),
      (error: { status?: number; headers?: Record<string, string>; message?: string }) => {
        state.errors.push(error);
        if (!res.headersSent) res.writeHead(error.status ?? 500, error.headers).end(String(error.message));
        else res.destroy();
      },
    );
  });
  state.port = await listen(server);
  onCleanup(() => handler.close());
  return state;
}

/** A recorded event stream. */
export interface Recorder {
  status: number;
  /** The client socket, to end it politely or reset it. */
  socket: net.Socket;
  headers: http.IncomingHttpHeaders;
  events: EventSourceMessage[];
  /** `retry:` values seen, in order. */
  retries: number[];
  /** The raw body text received. */
  text: string;
  ended: boolean;
  /** Resolves when the response has closed (ended or aborted). */
  closed: Promise<void>;
  /** Waits (bounded) until at least `n` events have arrived. */
  waitForEvents(n: number, ms?: number): Promise<EventSourceMessage[]>;
  close(): void;
}

/** Opens a stream with `node:http`; resolves once the response headers arrived. */
export function openStream(port: number, path: string, headers: http.OutgoingHttpHeaders = {}): Promise<Recorder> {
  return withTimeout(
    new Promise<Recorder>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path, headers: { accept: 'text/event-stream', ...headers }, agent: false });
      onCleanup(() => req.destroy());
      req.once('error', reject);
      req.once('response', (res) => {
        const events: EventSourceMessage[] = [];
        let aborted = false;
        res.once('close', () => (aborted = true));
        const retries: number[] = [];
        const recorder: Recorder = {
          status: res.statusCode ?? 0,
          socket: req.socket!,
          headers: res.headers,
          events,
          retries,
          text: '',
          ended: false,
          closed: new Promise<void>((done) => res.once('close', () => done())),
          waitForEvents: async (n, ms = 5000) => {
            await waitFor(() => events.length >= n || recorder.ended || aborted, ms, `${n} events (have ${events.length})`);
            if (events.length < n) throw new Error(`the stream closed after ${events.length} of ${n} events`);
            return events;
          },
          close: () => req.destroy(),
        };
        const parser = createParser({
          onEvent: (event) => events.push(event),
          onRetry: (ms) => retries.push(ms),
        });
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          recorder.text += chunk;
          parser.feed(chunk);
        });
        res.on('end', () => (recorder.ended = true));
        res.on('error', () => {});
        req.removeListener('error', reject);
        req.on('error', () => {});
        resolve(recorder);
      });
      req.end();
    }),
    5000,
    `response headers for ${path}`,
  );
}

/** A raw request written on a socket; `response` resolves with every byte until the close. */
export function rawRequest(port: number, request: Buffer | string): { socket: net.Socket; response: Promise<Buffer>; received: () => Buffer } {
  const socket = net.connect(port, '127.0.0.1');
  onCleanup(() => socket.destroy());
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => {});
  socket.once('connect', () => socket.write(request));
  const response = new Promise<Buffer>((resolve) => socket.once('close', () => resolve(Buffer.concat(chunks))));
  return { socket, response, received: () => Buffer.concat(chunks) };
}

/** Waits until the bytes received on a raw socket contain `needle`; bounded. */
export async function rawWaitFor(raw: { received: () => Buffer }, needle: string, ms = 5000): Promise<string> {
  await waitFor(() => raw.received().includes(needle), ms, `"${needle}" on the raw socket`);
  return raw.received().toString('latin1');
}

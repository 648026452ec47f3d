/**
 * A `node:http` server whose every request is opened through one shared core handler, the way
 * the README shows it and the adapters do. A refusal is answered with its status, headers and
 * message, as a framework would.
 */
import type { IncomingMessage, Server } from 'node:http';
import { SseHttpError, createSseHandler, type Connection, type OpenOptions, type SseHandler, type SseOptions } from '@ssekit/core';
import { track } from './cleanup';
import { startServer, type TestServer } from './servers';
import { Inbox } from './wait';

/** What {@link serveCore} started. */
export interface CoreServer {
  handler: SseHandler;
  /** Every connection opened, in order. */
  opened: Inbox<Connection>;
  /** Every error `open()` rejected with, in order. */
  refused: Inbox<unknown>;
  server: TestServer<Server>;
}

/** Open options from the query string: `?topic=a&topic=b`. */
export function topicsFromQuery(url: URL): OpenOptions {
  return { topics: url.searchParams.getAll('topic') };
}

/**
 * Starts the server. `perRequest` gives each request's open options (default none); `ipOf`,
 * when given, passes the client address the admission limits see.
 */
export async function serveCore(
  options: SseOptions = {},
  perRequest: (url: URL, req: IncomingMessage) => OpenOptions = () => ({}),
  ipOf?: (req: IncomingMessage) => string | undefined,
): Promise<CoreServer> {
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
        // A refusal comes before anything is written; a failure after the headers ends the stream.
        if (res.headersSent) {
          res.end();
          return;
        }
        const status = error instanceof SseHttpError ? error.status : 500;
        res.writeHead(status, error instanceof SseHttpError ? error.headers : {}).end(error instanceof Error ? error.message : String(error));
      },
    );
  });
  track(() => handler.close());
  return { handler, opened, refused, server };
}

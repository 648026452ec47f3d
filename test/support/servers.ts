/**
 * Servers on 127.0.0.1, port 0, closed (connections and HTTP/2 sessions too) by the cleanup
 * registry.
 */
import * as http from 'node:http';
import * as http2 from 'node:http2';
import type { AddressInfo, Server } from 'node:net';
import { track } from './cleanup';

/** A listening server. */
export interface TestServer<S extends Server = Server> {
  /** `http://127.0.0.1:<port>` (no trailing slash). */
  url: string;
  port: number;
  server: S;
  /** Closes the server and every connection it holds (idempotent). */
  close(): Promise<void>;
}

/**
 * Listens on 127.0.0.1, port 0. The server's connections (HTTP/1) or sessions (HTTP/2) are
 * closed with it, so closing never waits for a client.
 */
export async function listen<S extends Server>(server: S): Promise<TestServer<S>> {
  const sessions = new Set<http2.Http2Session>();
  server.on('session', (session: http2.Http2Session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= new Promise<void>((resolve) => {
      (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      for (const session of sessions) session.destroy();
      server.close(() => resolve());
    }));
  track(close);
  return { url: `http://127.0.0.1:${port}`, port, server, close };
}

/** Starts a `node:http` server on port 0. */
export function startServer(handler: http.RequestListener): Promise<TestServer<http.Server>> {
  return listen(http.createServer(handler));
}

/** Starts a cleartext HTTP/2 (h2c) server on port 0, using the compatibility API. */
export function startH2Server(
  handler: (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
): Promise<TestServer<http2.Http2Server>> {
  return listen(http2.createServer(handler));
}

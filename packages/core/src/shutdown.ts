/**
 * Shutting down a server that carries event streams. `server.close()` alone waits for every
 * open connection to end, and an event stream never ends on its own: the callback would wait
 * until every client went away. Ending the streams first, politely, is what lets it finish.
 */

/** What {@link closeServerAndStreams} needs from a `node:http` or `node:https` server. */
export interface ClosableServer {
  /** Stops accepting connections; calls back once every connection has ended. */
  close(callback?: (error?: Error) => void): unknown;
  /** Ends keep-alive connections that carry no request (Node.js 18.2+). */
  closeIdleConnections?(): void;
}

/** Anything whose open streams can be ended together, such as an `SseHandler`. */
export interface ClosableStreams {
  /** Ends every open stream; resolves once all have closed. */
  close(): Promise<void>;
}

/**
 * Stops `server` accepting connections, ends every stream of `streams` (each gets its final
 * `retry:` hint), closes the keep-alive connections those streams leave idle, and resolves
 * once the server has closed. A server that was not listening is not an error.
 */
export async function closeServerAndStreams(server: ClosableServer, streams: ClosableStreams): Promise<void> {
  // Ask first, so that no new connection arrives while the streams are being ended.
  const closed = new Promise<void>((resolve) => {
    server.close(() => resolve());
  });
  await streams.close();
  // An ended stream leaves its socket in keep-alive; without this the server would wait for
  // the client (or keepAliveTimeout) to drop it.
  server.closeIdleConnections?.();
  await closed;
}

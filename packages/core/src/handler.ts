/**
 * What every adapter shares: limits, authorization, topic validation, the resume id, and opening
 * a registered, replayed stream for one request. An adapter only translates its framework's
 * request, response and lifecycle into calls on an {@link SseHandler}: Node adapters through
 * `open(req, res)`, other transports through `openStream` with their own sink.
 */
import type { Broadcaster } from './broadcaster.js';
import type { Connection } from './connection.js';
import { SseHttpError, SseOptionsError } from './errors.js';
import { handoffOf, withReplay } from './handoff.js';
import { Hub } from './hub.js';
import { ConnectionLimits } from './limits.js';
import type { MaybePromise } from './event.js';
import { lastEventIdFrom } from './last-event-id.js';
import { DefaultProvider, type NodeRequest, type NodeResponse } from './node.js';
import { checkOpenOptions, optionsForConnection, resolveSseOptions, type ConnectionOptions, type OpenOptions, type SseOptions } from './options.js';
import type { Replayer, SyncReplayer } from './replayer.js';
import { closeServerAndStreams, type ClosableServer } from './shutdown.js';
import { topicProblem } from './topic.js';

/** What an adapter passes besides {@link OpenOptions}. */
export interface OpenContext<Req> {
  /** The request as the framework sees it, given to `authorize`. */
  request: Req;
  /** The client address for `maxConnectionsPerIp` (the framework's proxy-aware one). */
  ip?: string | undefined;
}

/**
 * What a transport tells the handler about one request, in terms every transport has (Node's
 * `http`, the Fetch API): how an adapter for another runtime reuses the whole handler.
 */
export interface StreamRequest<Req> {
  /** The request as the framework sees it, given to `authorize`. */
  readonly request: Req;
  /** One request header by its lower-case name, as the transport decoded it; `undefined` when absent. */
  header(name: string): string | undefined;
  /** The request target (path and query, or an absolute URL), for the `lastEventId` query parameter. */
  readonly url: string | undefined;
  /** The client address for `maxConnectionsPerIp`; requests without one share the `'unknown'` slot. */
  readonly ip: string | undefined;
}

/**
 * Opens the stream of an admitted request on the transport: writes the headers and returns the
 * connection, built on an {@link SseConnection} over the transport's sink. `options` are the
 * handler's, already validated, with the request's resume id.
 */
export type OpenConnection = (options: ConnectionOptions) => MaybePromise<Connection>;

/** The object an adapter builds its `sse()` on. */
export interface SseHandler<Req = NodeRequest> {
  /** The broadcaster every stream is registered on. */
  readonly hub: Broadcaster;
  /** The replayer used for `Last-Event-ID`, if any. */
  readonly replayer: Replayer | undefined;
  /**
   * Opens a stream for one Node.js request: validates topics, applies limits and `authorize`,
   * writes the headers (through the `provider`), registers and subscribes the connection and
   * replays what it missed. Resolves once replay has been written.
   * @throws {SseHttpError} (as a rejection) when the request is refused; nothing was written.
   * @throws {SseOptionsError} (as a rejection) for an unknown key in `openOptions`.
   */
  open(req: NodeRequest, res: NodeResponse, openOptions?: OpenOptions, context?: OpenContext<Req>): Promise<Connection>;
  /**
   * What {@link SseHandler.open} does, for any transport: the request is described by
   * `stream`, and `connect` opens the connection once the request is admitted.
   * @throws {SseHttpError} (as a rejection) when the request is refused; `connect` was not called.
   */
  openStream(stream: StreamRequest<Req>, openOptions: OpenOptions | undefined, connect: OpenConnection): Promise<Connection>;
  /** Streams open through this handler. */
  connectionCount(): number;
  /**
   * Ends every stream opened through this handler with a final `retry:` hint, and refuses new
   * ones with 503. Resolves when all have closed and their last bytes have left (or their
   * clients were dropped after `shutdownGraceMs`).
   *
   * With `server`, shuts it down too ({@link closeServerAndStreams}): stops accepting
   * connections, ends the streams, closes the keep-alive connections they leave idle and
   * resolves once the server has closed.
   */
  close(server?: ClosableServer): Promise<void>;
}

/** Validates adapter options and builds the shared handler; throws {@link SseOptionsError}. */
export function createSseHandler<Req = NodeRequest>(options: SseOptions<Req> = {}): SseHandler<Req> {
  const settings = resolveSseOptions(options);
  const { replayer, authorize, resetEvent, shutdownRetryMs, shutdownGraceMs, retryAfter } = settings;
  const provider = settings.provider ?? new DefaultProvider();
  const schemas = settings.connection.schemas;
  const hub: Broadcaster = settings.hub ?? new Hub({ replayer: replayer as SyncReplayer | undefined, ...(schemas ? { schemas } : {}) });
  const connectionOptions = settings.connection;
  const limits = new ConnectionLimits(settings.maxConnections, settings.maxConnectionsPerIp, retryAfter);

  const open = new Set<Connection>();
  let closing = false;

  const shuttingDown = (): SseHttpError => new SseHttpError(503, 'Server is shutting down', { 'Retry-After': retryAfter });

  async function openStream(stream: StreamRequest<Req>, openOptions: OpenOptions = {}, connect: OpenConnection): Promise<Connection> {
    checkOpenOptions(openOptions);
    const topics = openOptions.topics ?? [];
    if (!Array.isArray(topics)) throw new SseHttpError(400, 'topics must be an array of strings');
    for (const topic of topics) {
      const problem = topicProblem(topic);
      if (problem) throw new SseHttpError(400, `Invalid topic: ${problem}`);
    }
    if (closing) throw shuttingDown();
    const release = limits.admit(stream.ip);
    let connection: Connection;
    let lastEventId: string | undefined;
    try {
      if (authorize) {
        const allowed = await authorize(stream.request, topics);
        if (allowed !== true) throw new SseHttpError(403, 'Forbidden');
      }
      if (closing) throw shuttingDown();
      // Read once, here: the connection, the handoff and the hub all get this value.
      lastEventId = openOptions.replay === false ? undefined : lastEventIdFrom(stream.header('last-event-id'), stream.url);
      connection = await connect(optionsForConnection(connectionOptions, lastEventId));
    } catch (error) {
      release();
      throw error;
    }
    // close() may have run while an async provider was opening the stream: the headers are
    // out, so end it like the others rather than leave it open after shutdown.
    if (closing) void connection.close({ retryMs: shutdownRetryMs, graceMs: shutdownGraceMs });
    if (connection.closed) {
      release();
    } else {
      open.add(connection);
      connection.onClose(() => {
        open.delete(connection);
        release();
      });
    }
    try {
      if (replayer !== undefined && handoffOf(connection) === undefined) {
        throw new SseOptionsError('provider', provider, 'must return connections built on an SseConnection when there is a replayer (see Provider)');
      }
      await withReplay(connection, { hub, replayer, topics, lastEventId, resetEvent });
    } catch (error) {
      // Registration failed after the headers went out: end the stream (the client retries)
      // rather than leave it open and deaf.
      void connection.close();
      throw error;
    }
    return connection;
  }

  return {
    hub,
    replayer,
    connectionCount: () => open.size,
    openStream,

    open(req, res, openOptions, context) {
      const stream: StreamRequest<Req> = {
        request: (context?.request ?? req) as Req,
        header: (name) => {
          const value = req.headers[name];
          return Array.isArray(value) ? value[0] : value;
        },
        url: req.url,
        ip: limits.perAddress ? (context?.ip ?? req.socket?.remoteAddress) : undefined,
      };
      return openStream(stream, openOptions, (options) => provider.createConnection(req, res, options));
    },

    close(server) {
      return server ? closeServerAndStreams(server, { close: closeStreams }) : closeStreams();
    },
  };

  async function closeStreams(): Promise<void> {
    closing = true;
    // Ended is not yet sent: a client that is behind still has bytes queued, the hint last.
    // Each close resolves once they have left, so the caller can close the server's sockets
    // (closeIdleConnections would cut them off); clients that do not read within the grace
    // period are dropped.
    await Promise.all([...open].map((c) => c.close({ retryMs: shutdownRetryMs, graceMs: shutdownGraceMs })));
  }
}

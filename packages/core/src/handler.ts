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
import { ConnectPacer } from './pacing.js';
import type { MaybePromise } from './event.js';
import { lastEventIdFrom } from './last-event-id.js';
import { DefaultProvider, type NodeRequest, type NodeResponse } from './node.js';
import { Deadlines, DEFAULT_DEADLINE_RESOLUTION_MS } from './lifetime.js';
import { metricsFor, observeDeliveries, type SseCloseCause, type SseRejectReason } from './metrics.js';
import {
  checkOpenOptions,
  optionsForConnection,
  resolveSseOptions,
  type AuthorizeResult,
  type ConnectionOptions,
  type OpenOptions,
  type SseOptions,
} from './options.js';
import type { Replayer, SyncReplayer } from './replayer.js';
import { closeServerAndStreams, type ClosableServer } from './shutdown.js';
import { StatsCounter, type SseStats } from './stats.js';
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
  /** A snapshot of this handler's streams, closes and refusals, for health endpoints and logs. */
  stats(): SseStats;
  /**
   * Ends every stream opened through this handler with a final `retry:` hint (spread over
   * `shutdownRetryJitterMs`), and refuses new ones with 503. Resolves when all have closed and their last bytes have left (or their
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
  const { replayer, authorize, resetEvent, shutdownRetryMs, shutdownGraceMs, shutdownRetryJitterMs, retryAfter } = settings;
  const { maxLifetimeMs, maxLifetimeJitterMs, endRetryMs } = settings;
  const provider = settings.provider ?? new DefaultProvider();
  const schemas = settings.connection.schemas;
  const hub: Broadcaster = settings.hub ?? new Hub({ replayer: replayer as SyncReplayer | undefined, ...(schemas ? { schemas } : {}) });
  const connectionOptions = settings.connection;
  const limits = new ConnectionLimits(settings.maxConnections, settings.maxConnectionsPerIp, retryAfter);
  const pacer = settings.maxConnectsPerSecond === undefined ? undefined : new ConnectPacer(settings.maxConnectsPerSecond);

  const metrics = settings.metrics === undefined ? undefined : metricsFor(settings.metrics);
  if (metrics !== undefined) observeDeliveries(hub, metrics.broadcastDelivered);
  const counts = new StatsCounter();

  /** What the handler keeps of each open stream. */
  interface Tracked {
    readonly topics: readonly string[];
    /** What a deadline of this stream means, once it has one. */
    endsAs: 'lifetime' | 'expired' | undefined;
    /** Set when the handler ends the stream itself. */
    cause: SseCloseCause | undefined;
  }
  const open = new Map<Connection, Tracked>();
  let closing = false;

  // One timer for every stream's deadline, started with the first one.
  const resolutionMs = maxLifetimeMs === undefined ? DEFAULT_DEADLINE_RESOLUTION_MS : Math.min(DEFAULT_DEADLINE_RESOLUTION_MS, Math.max(10, Math.floor(maxLifetimeMs / 20)));
  const deadlines = new Deadlines<Connection>(resolutionMs, (connection) => {
    const tracked = open.get(connection);
    if (tracked === undefined) return;
    tracked.cause = tracked.endsAs;
    void connection.close({ retryMs: endRetryMs, graceMs: shutdownGraceMs });
  });

  const refused = (reason: SseRejectReason): void => {
    counts.countReject(reason);
    metrics?.requestRejected(reason);
  };

  const shuttingDown = (): SseHttpError => new SseHttpError(503, 'Server is shutting down', { 'Retry-After': retryAfter });

  async function openStream(stream: StreamRequest<Req>, openOptions: OpenOptions = {}, connect: OpenConnection): Promise<Connection> {
    checkOpenOptions(openOptions);
    const topics = openOptions.topics ?? [];
    if (!Array.isArray(topics)) {
      refused('topic');
      throw new SseHttpError(400, 'topics must be an array of strings');
    }
    for (const topic of topics) {
      const problem = topicProblem(topic);
      if (problem) {
        refused('topic');
        throw new SseHttpError(400, `Invalid topic: ${problem}`);
      }
    }
    if (closing) throw shuttingDown();
    if (pacer !== undefined && !pacer.admit()) {
      // Past the rate: 200, a retry: hint, and the end of the stream, so the client's
      // EventSource comes back later (a 503 would stop it for good). Nothing is registered or
      // replayed; the connection is returned already closed.
      refused('rate');
      const { heartbeatMs: _noHeartbeat, ...rest } = optionsForConnection(connectionOptions, undefined);
      const paced = await connect({ ...rest, heartbeatMs: 0, retryMs: pacer.retryMs() });
      void paced.close();
      return paced;
    }
    let release: () => void;
    try {
      release = limits.admit(stream.ip);
    } catch (error) {
      refused((error as SseHttpError).status === 429 ? 'ip_limit' : 'limit');
      throw error;
    }
    let connection: Connection;
    let lastEventId: string | undefined;
    let expiresAt: number | undefined;
    try {
      if (authorize) {
        let allowed: AuthorizeResult;
        try {
          allowed = await authorize(stream.request, topics);
        } catch (error) {
          refused('auth');
          throw error;
        }
        const until = admittedUntil(allowed);
        if (until === false) {
          refused('auth');
          throw new SseHttpError(403, 'Forbidden');
        }
        expiresAt = until;
      }
      if (closing) throw shuttingDown();
      // Read once, here: the connection, the handoff and the hub all get this value.
      lastEventId = openOptions.replay === false ? undefined : lastEventIdFrom(stream.header('last-event-id'), stream.url);
      connection = await connect(optionsForConnection(connectionOptions, lastEventId));
    } catch (error) {
      release();
      throw error;
    }
    if (connection.closed) {
      release();
    } else {
      const tracked: Tracked = { topics, endsAs: undefined, cause: undefined };
      open.set(connection, tracked);
      counts.opened++;
      metrics?.streamOpened();
      connection.onClose((reason) => {
        open.delete(connection);
        deadlines.delete(connection);
        release();
        const cause = tracked.cause ?? reason;
        counts.countClose(cause);
        metrics?.streamClosed(cause);
      });
      const lifetimeEnd = maxLifetimeMs === undefined ? undefined : Date.now() + maxLifetimeMs - Math.floor(Math.random() * (maxLifetimeJitterMs + 1));
      if (expiresAt !== undefined && (lifetimeEnd === undefined || expiresAt <= lifetimeEnd)) {
        tracked.endsAs = 'expired';
        deadlines.add(connection, expiresAt);
      } else if (lifetimeEnd !== undefined) {
        tracked.endsAs = 'lifetime';
        deadlines.add(connection, lifetimeEnd);
      }
      // close() may have run while an async provider was opening the stream: the headers are
      // out, so end it like the others rather than leave it open after shutdown.
      if (closing) endForShutdown(connection, tracked);
    }
    try {
      if (replayer !== undefined && handoffOf(connection) === undefined) {
        throw new SseOptionsError('provider', provider, 'must return connections built on an SseConnection when there is a replayer (see Provider)');
      }
      const began = metrics !== undefined && replayer !== undefined && lastEventId !== undefined ? performance.now() : undefined;
      const result = await withReplay(connection, { hub, replayer, topics, lastEventId, resetEvent });
      if (began !== undefined) metrics!.replayed(result.gap, result.count, (performance.now() - began) / 1000);
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
    stats: () => {
      const topics = new Set<string>();
      for (const tracked of open.values()) for (const topic of tracked.topics) topics.add(topic);
      return counts.snapshot(open.size, topics.size);
    },
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
    await Promise.all([...open].map(([connection, tracked]) => endForShutdown(connection, tracked)));
  }

  /** Ends one stream at shutdown; its `retry:` hint is spread over the jitter window. */
  function endForShutdown(connection: Connection, tracked: Tracked): Promise<void> {
    tracked.cause = 'shutdown';
    const retryMs = shutdownRetryMs + Math.floor(Math.random() * (shutdownRetryJitterMs + 1));
    return connection.close({ retryMs, graceMs: shutdownGraceMs });
  }
}

/**
 * What an `authorize` result admits: `false` for a refusal (including an `expiresAt` already
 * past), `undefined` for no expiry, or the expiry in `Date.now()` milliseconds.
 * @throws {SseOptionsError} for an `expiresAt` that is neither a finite number nor a valid `Date`.
 */
function admittedUntil(result: AuthorizeResult): number | undefined | false {
  if (result === true) return undefined;
  if (typeof result !== 'object' || result === null) return false;
  const { expiresAt } = result;
  const at = expiresAt instanceof Date ? expiresAt.getTime() : expiresAt;
  if (typeof at !== 'number' || !Number.isFinite(at)) {
    throw new SseOptionsError('authorize', result, 'must resolve to true, false or { expiresAt: number | Date } with a valid time');
  }
  return at > Date.now() ? at : false;
}

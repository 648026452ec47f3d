/**
 * What every framework adapter shares: options, limits, authorization, topic validation, and
 * opening a registered, replayed stream for one request. An adapter only translates its
 * framework's request, response and lifecycle into calls on an {@link SseHandler}.
 */
import { isBroadcaster, type Broadcaster } from './broadcaster.js';
import {
  checkNonNegativeInt,
  resolveConnectionOptions,
  readLastEventId,
  type Connection,
  type ConnectionOptions,
} from './connection.js';
import type { MaybePromise, SseEvent } from './event.js';
import { SseHttpError, SseOptionsError } from './errors.js';
import { formatEvent } from './format.js';
import { Hub } from './hub.js';
import { DefaultProvider, isProvider, type Provider } from './provider.js';
import { withReplay } from './replay.js';
import { isReplayer, type Replayer, type SyncReplayer } from './replayer.js';
import type { NodeRequest, NodeResponse, SseHeaders } from './sink.js';
import { closeServerAndStreams, type ClosableServer } from './shutdown.js';
import { topicProblem } from './topic.js';

/** Decides whether a request may subscribe to `topics`; `false` answers 403. */
export type Authorize<Req = NodeRequest> = (request: Req, topics: readonly string[]) => boolean | Promise<boolean>;

/** Options shared by every adapter (`expressSse`, `fastifySse`, `koaSse`). */
export interface SseOptions<Req = NodeRequest> {
  /**
   * Where connections are registered and broadcasts go. Default: a new in-memory {@link Hub}
   * using `replayer`, so broadcasts carry the replayer's ids. A hub passed in does its own
   * storing; `replayer` is then only used to replay.
   */
  hub?: Broadcaster;
  /** Retains events for `Last-Event-ID` recovery. Default: none (no replay). */
  replayer?: Replayer;
  /**
   * Period of heartbeat comments in milliseconds; `0` turns them off.
   * @defaultValue 15000
   */
  heartbeatMs?: number;
  /** Reconnection delay sent once at connect (`retry:` field), in milliseconds. */
  retryMs?: number;
  /**
   * A client whose unsent bytes would pass this limit is closed as `slow`.
   * @defaultValue 1048576 (1 MiB)
   */
  maxBufferedBytes?: number;
  /** Creates connections. @defaultValue a {@link DefaultProvider} */
  provider?: Provider;
  /** Open streams allowed at once on this adapter; over it: 503 with `Retry-After`. */
  maxConnections?: number;
  /** Open streams allowed at once per client IP; over it: 429 with `Retry-After`. */
  maxConnectionsPerIp?: number;
  /**
   * Seconds announced in `Retry-After` when a limit refuses a request.
   * @defaultValue 5
   */
  retryAfterSeconds?: number;
  /**
   * Decides whether a request may open a stream on `topics`. `false` answers 403 and opens
   * nothing; throw an {@link SseHttpError} with status 401 to ask for credentials.
   */
  authorize?: Authorize<Req>;
  /**
   * On a replay gap, send a reset event so the page reloads its state: `true` sends
   * `event: ssekit-reset` with data `gap`; an event object sends that event.
   * @defaultValue false
   */
  resetEvent?: boolean | SseEvent;
  /** Extra response headers on every stream. */
  headers?: SseHeaders;
  /**
   * The `retry:` hint written to every stream when the server shuts down, so clients come back
   * once it is up again instead of all at once.
   * @defaultValue `retryMs`, else 1000
   */
  shutdownRetryMs?: number;
  /**
   * How long `close()` waits, per stream, for the bytes still queued for a client that is
   * behind (the `retry:` hint last) to be handed to the network, in milliseconds. A client
   * that stopped reading is dropped when this runs out, so it cannot hold a shutdown.
   * @defaultValue 2000
   */
  shutdownGraceMs?: number;
}

/** Options of one stream, given to `res.sse()`, `reply.sse()` or `ctx.sse()`. */
export interface OpenOptions {
  /** Topics to subscribe to. Each must be 1 to 256 characters with no control characters. */
  topics?: readonly string[];
  /** Set `false` to ignore `Last-Event-ID`. @defaultValue true */
  replay?: boolean;
}

/** What an adapter passes besides {@link OpenOptions}. */
export interface OpenContext<Req> {
  /** The request as the framework sees it, given to `authorize`. */
  request: Req;
  /** The client address for `maxConnectionsPerIp` (the framework's proxy-aware one). */
  ip?: string | undefined;
}

/** The object an adapter builds its `sse()` on. */
export interface SseHandler<Req = NodeRequest> {
  /** The broadcaster every stream is registered on. */
  readonly hub: Broadcaster;
  /** The replayer used for `Last-Event-ID`, if any. */
  readonly replayer: Replayer | undefined;
  /**
   * Opens a stream for one request: validates topics, applies limits and `authorize`, writes
   * the headers, registers and subscribes the connection and replays what it missed. Resolves
   * once replay has been written.
   * @throws {SseHttpError} (as a rejection) when the request is refused; nothing was written.
   */
  open(req: NodeRequest, res: NodeResponse, options?: OpenOptions, context?: OpenContext<Req>): Promise<Connection>;
  /** Streams open through this handler. */
  connectionCount(): number;
  /**
   * Ends every stream opened through this handler with a final `retry:` hint, and refuses new
   * ones with 503. Resolves when all have closed.
   *
   * With `server`, shuts it down too ({@link closeServerAndStreams}): stops accepting
   * connections, ends the streams, closes the keep-alive connections they leave idle and
   * resolves once the server has closed.
   */
  close(server?: ClosableServer): Promise<void>;
}

/** Validates adapter options and builds the shared handler; throws {@link SseOptionsError}. */
export function createSseHandler<Req = NodeRequest>(options: SseOptions<Req> = {}): SseHandler<Req> {
  if (typeof options !== 'object' || options === null) {
    throw new SseOptionsError('options', options, 'must be an object');
  }
  const connectionOptions = resolveConnectionOptions(options);
  const { replayer, provider = new DefaultProvider(), authorize } = options;
  if (replayer !== undefined && !isReplayer(replayer)) {
    throw new SseOptionsError('replayer', replayer, 'must implement store() and replay()');
  }
  if (options.hub !== undefined && !isBroadcaster(options.hub)) {
    throw new SseOptionsError('hub', options.hub, 'must implement the Broadcaster interface (register, subscribe, broadcast, ...)');
  }
  if (!isProvider(provider)) throw new SseOptionsError('provider', provider, 'must implement createConnection()');
  if (authorize !== undefined && typeof authorize !== 'function') {
    throw new SseOptionsError('authorize', authorize, 'must be a function');
  }
  const maxConnections = checkNonNegativeInt('maxConnections', options.maxConnections, false);
  const maxPerIp = checkNonNegativeInt('maxConnectionsPerIp', options.maxConnectionsPerIp, false);
  const retryAfter = String(checkNonNegativeInt('retryAfterSeconds', options.retryAfterSeconds) ?? 5);
  const shutdownRetryMs =
    checkNonNegativeInt('shutdownRetryMs', options.shutdownRetryMs) ?? connectionOptions.retryMs ?? 1000;
  const shutdownGraceMs = checkNonNegativeInt('shutdownGraceMs', options.shutdownGraceMs) ?? 2000;
  const resetEvent = options.resetEvent;
  if (resetEvent !== undefined && typeof resetEvent !== 'boolean' && (typeof resetEvent !== 'object' || resetEvent === null)) {
    throw new SseOptionsError('resetEvent', resetEvent, 'must be a boolean or an event object');
  }
  if (typeof resetEvent === 'object') {
    // Encode it once now: an event that cannot be written would otherwise fail at the first
    // gap, after the 200 headers, and end that stream.
    try {
      formatEvent(resetEvent);
    } catch (error) {
      throw new SseOptionsError('resetEvent', resetEvent, `cannot be encoded (${(error as Error).message})`);
    }
  }
  const hub: Broadcaster = options.hub ?? new Hub({ replayer: replayer as SyncReplayer | undefined });

  const open = new Set<Connection>();
  /** Each stream's response, so that `close()` can wait for its last bytes to leave. */
  const responses = new WeakMap<Connection, NodeResponse>();
  const perIp = new Map<string, number>();
  let pending = 0;
  let closing = false;

  const release = (ip: string | undefined): void => {
    if (ip === undefined) return;
    const n = (perIp.get(ip) ?? 1) - 1;
    if (n <= 0) perIp.delete(ip);
    else perIp.set(ip, n);
  };

  return {
    hub,
    replayer,
    connectionCount: () => open.size,

    async open(req, res, call = {}, context) {
      const topics = call.topics ?? [];
      if (!Array.isArray(topics)) throw new SseHttpError(400, 'topics must be an array of strings');
      for (const topic of topics) {
        const problem = topicProblem(topic);
        if (problem) throw new SseHttpError(400, `Invalid topic: ${problem}`);
      }
      if (closing) throw new SseHttpError(503, 'Server is shutting down', { 'Retry-After': retryAfter });
      if (maxConnections !== undefined && open.size + pending >= maxConnections) {
        throw new SseHttpError(503, 'Too many open event streams', { 'Retry-After': retryAfter });
      }
      const ip = maxPerIp === undefined ? undefined : (context?.ip ?? req.socket?.remoteAddress ?? 'unknown');
      if (ip !== undefined) {
        const n = perIp.get(ip) ?? 0;
        if (n >= maxPerIp!) throw new SseHttpError(429, 'Too many open event streams from this address', { 'Retry-After': retryAfter });
        perIp.set(ip, n + 1);
      }
      pending++;
      let connection: Connection;
      try {
        if (authorize) {
          const allowed = await authorize((context?.request ?? req) as Req, topics);
          if (allowed !== true) throw new SseHttpError(403, 'Forbidden');
        }
        if (closing) throw new SseHttpError(503, 'Server is shutting down', { 'Retry-After': retryAfter });
        const lastEventId = call.replay === false ? undefined : readLastEventId(req);
        const perConnection: ConnectionOptions = { ...connectionOptions, lastEventId };
        connection = await provider.createConnection(req, res, perConnection);
      } catch (error) {
        release(ip);
        throw error;
      } finally {
        pending--;
      }
      // close() may have run while an async provider was opening the stream: the headers are
      // out, so end it like the others rather than leave it open after shutdown.
      if (closing) connection.close({ retryMs: shutdownRetryMs });
      if (connection.closed) {
        release(ip);
      } else {
        open.add(connection);
        responses.set(connection, res);
        connection.onClose(() => {
          open.delete(connection);
          release(ip);
        });
      }
      try {
        await withReplay(connection, { broadcaster: hub, replayer, topics, replay: call.replay, resetEvent });
      } catch (error) {
        // Registration failed after the headers went out: end the stream (the client retries)
        // rather than leave it open and deaf.
        connection.close();
        throw error;
      }
      return connection;
    },

    close(server) {
      return server ? closeServerAndStreams(server, { close: closeStreams }) : closeStreams();
    },
  };

  async function closeStreams(): Promise<void> {
    closing = true;
    const all = [...open];
    for (const connection of all) connection.close({ retryMs: shutdownRetryMs });
    await Promise.all(all.map((c) => c.closedPromise()));
    // Ended is not yet sent: a client that is behind still has bytes queued, the hint last.
    // Let them leave before the caller closes the server's sockets (closeIdleConnections
    // would cut them off); drop the clients that do not read within the grace period.
    await Promise.all(all.map((c) => whenSent(responses.get(c), shutdownGraceMs)));
  }
}

/** Resolves once `res` has handed its last byte to the network or closed; destroys it after `ms`. */
function whenSent(res: NodeResponse | undefined, ms: number): Promise<void> {
  if (res === undefined || res.destroyed || ('writableFinished' in res && res.writableFinished)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      res.off('finish', done);
      res.off('close', done);
      resolve();
    };
    const timer = setTimeout(() => {
      res.destroy();
      done();
    }, ms);
    res.on('finish', done);
    res.on('close', done);
  });
}

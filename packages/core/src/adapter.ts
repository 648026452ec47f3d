/**
 * The shapes every framework adapter shares: the `sse()` each adds to its request or response,
 * and the API of the middleware (or plugin) it returns, so that Express, Fastify and Koa read
 * the same and are documented once.
 */
import type { Broadcaster } from './broadcaster.js';
import type { Connection } from './connection.js';
import type { SseHandler } from './handler.js';
import type { OpenOptions } from './options.js';
import type { ClosableServer } from './shutdown.js';
import type { AnyEvents, EventMap } from './event-map.js';
import type { SseStats } from './stats.js';

/**
 * Opens an event stream for the current request (`res.sse()`, `reply.sse()`, `ctx.sse()`):
 * validates the topics, applies the connection limits and `authorize`, writes the headers,
 * registers the stream on the hub and replays what the client missed. Resolves with the
 * connection once replay has been written; the adapter has then taken the response over.
 *
 * Rejects with an `SseHttpError` (400, 403, 429 or 503, with `Retry-After` when relevant) when
 * the request is refused: nothing was written, so the framework's error handling answers with
 * the error's `status` and `headers`. An unknown key in `openOptions` rejects with an
 * `SseOptionsError`.
 *
 * `res.sse<Events>()` (an event map, see `EventMap`) types the connection's `send` and `pipe`:
 * the framework's request type is shared by the whole app, so the map is named at the call,
 * like the adapter's own `<Events>`. Without it the connection is untyped.
 */
export type OpenStream = <E extends EventMap = AnyEvents>(openOptions?: OpenOptions) => Promise<Connection<E>>;

/** What the middleware of `expressSse` and `koaSse` carries besides being a middleware. */
export interface SseMiddlewareApi<H = Broadcaster> {
  /** The broadcaster every stream is registered on: broadcast through it. */
  readonly hub: H;
  /** Number of streams open through this middleware. */
  connectionCount(): number;
  /** A snapshot of the streams, closes and refusals of this middleware, for health endpoints. */
  stats(): SseStats;
  /**
   * Ends every stream with a final `retry:` hint and refuses new ones with 503.
   *
   * With `server` (what `app.listen()` returns), shuts it down too: stops accepting
   * connections, ends the streams, closes the keep-alive connections they leave idle and
   * resolves once the server has closed. A bare `server.close()` would wait for every client
   * to go away, since an event stream never ends on its own.
   */
  close(server?: ClosableServer): Promise<void>;
}

/** The {@link SseMiddlewareApi} of a handler, for an adapter to attach to its middleware. */
export function handlerApi<H, Req>(handler: SseHandler<Req>): SseMiddlewareApi<H> {
  return {
    // The hub given in the options, or the in-memory Hub the handler created.
    hub: handler.hub as H,
    connectionCount: () => handler.connectionCount(),
    stats: () => handler.stats(),
    close: (server) => handler.close(server),
  };
}

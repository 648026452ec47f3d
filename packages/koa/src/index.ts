/**
 * `@ssekit/koa`: Server-Sent Events for Koa.
 *
 * A middleware over the shared `@ssekit/core` handler: it adds `ctx.sse()` and `ctx.sseHub`.
 * Once a stream is open the middleware sets `ctx.respond = false`, so Koa neither ends the
 * response nor rewrites it after the route returns
 * (https://koajs.com/#ctx-respond). A refused stream rejects `ctx.sse()` with an
 * `SseHttpError` before anything is written; Koa's error handling answers with its `status`,
 * `headers` and (exposed) message.
 * @packageDocumentation
 */
import type Koa from 'koa';
import {
  createSseHandler,
  isClientDisconnected,
  type Broadcaster,
  type Hub,
  type ClosableServer,
  type Connection,
  type OpenOptions,
  type SseOptions,
} from '@ssekit/core';

/**
 * Options of {@link koaSse}: every option of `@ssekit/core`'s `SseOptions`, with `authorize`
 * receiving the Koa context (so it can read `ctx.state`).
 */
export type KoaSseOptions = SseOptions<Koa.Context>;

/** The middleware returned by {@link koaSse}. */
export interface KoaSseMiddleware<H extends Broadcaster = Broadcaster> {
  /** Adds `ctx.sse()` and `ctx.sseHub`, then runs the downstream middleware. */
  (ctx: Koa.ExtendableContext, next: Koa.Next): Promise<void>;
  /** The broadcaster every stream is registered on: broadcast through it. */
  readonly hub: H;
  /** Number of streams open through this middleware. */
  connectionCount(): number;
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

declare module 'koa' {
  interface ExtendableContext {
    /**
     * Opens an event stream for this request (added by `@ssekit/koa`): validates topics,
     * applies limits and `authorize`, writes the headers, registers the stream on the hub and
     * replays what the client missed. Resolves with the connection once replay is written;
     * Koa then leaves the response alone (`ctx.respond = false`).
     *
     * Rejects with an `SseHttpError` (400, 403, 429 or 503, with `Retry-After` when relevant)
     * when the request is refused; nothing was written, so Koa's error handling answers.
     */
    sse(options?: OpenOptions): Promise<Connection>;
    /** The hub of the `@ssekit/koa` middleware. */
    sseHub: Broadcaster;
  }
}

/**
 * Koa reports a socket error on a finished-or-not response to `ctx.onerror`, which emits it on
 * the app (logged by default). A client dropping an event stream, even with a reset, is how
 * streams normally end: the connection records it as close reason `client`, and it is not an
 * application error.
 */
function quietDisconnects(ctx: Koa.ExtendableContext): void {
  const onerror = ctx.onerror;
  ctx.onerror = (error: Error) => {
    if (error != null && isClientDisconnected(error)) return;
    onerror.call(ctx, error);
  };
}

/**
 * Creates the Koa middleware. Options are validated here: an invalid one throws an
 * `SseOptionsError` at once.
 *
 * @example
 * ```ts
 * const sse = koaSse({ heartbeatMs: 15_000 });
 * app.use(sse);
 * app.use(async (ctx) => {
 *   const conn = await ctx.sse({ topics: ['news'] });
 *   await conn.send({ data: 'hello' });
 * });
 * sse.hub.broadcastTo('news', { data: { headline: 'ssekit 0.1' } });
 * ```
 */
export function koaSse<H extends Broadcaster = Hub>(options: KoaSseOptions & { hub?: H } = {}): KoaSseMiddleware<H> {
  const handler = createSseHandler<Koa.Context>(options);

  const middleware = (ctx: Koa.ExtendableContext, next: Koa.Next): Promise<void> => {
    ctx.sseHub = handler.hub;
    ctx.sse = async (call?: OpenOptions) => {
      quietDisconnects(ctx);
      try {
        const connection = await handler.open(ctx.req, ctx.res, call, { request: ctx as Koa.Context, ip: ctx.ip });
        ctx.respond = false;
        return connection;
      } catch (error) {
        // Headers already out (a hub that failed to register the stream): the stream has been
        // ended, and Koa must not try to answer on top of it.
        if (ctx.res.headersSent) ctx.respond = false;
        throw error;
      }
    };
    return next().then(() => undefined);
  };

  return Object.assign(middleware, {
    // The hub given in the options, or the in-memory Hub the handler created.
    hub: handler.hub as H,
    connectionCount: () => handler.connectionCount(),
    close: (server?: ClosableServer) => handler.close(server),
  });
}

export default koaSse;
export type { Broadcaster, ClosableServer, Connection, OpenOptions } from '@ssekit/core';

/**
 * `@ssekit/koa`: Server-Sent Events for Koa.
 *
 * A middleware over the shared `@ssekit/core` handler: it adds `ctx.sse()` and `ctx.sseHub`.
 * Once a stream is open the middleware sets `ctx.respond = false`, so Koa neither ends the
 * response nor rewrites it after the route returns
 * (https://koajs.com/#ctx-respond). A refused stream rejects `ctx.sse()` with an
 * `SseHttpError` before anything is written; Koa's error handling answers with its `status`,
 * `headers` and (exposed) message. The package re-exports what a quick start needs from
 * `@ssekit/core`, so it is the only one to install.
 * @packageDocumentation
 */
import type Koa from 'koa';
import {
  createSseHandler,
  isClientDisconnected,
  type AnyEvents,
  type Broadcaster,
  type EventMap,
  type Hub,
  type OpenOptions,
  type OpenStream,
  type SseMiddlewareApi,
  type SseOptions,
} from '@ssekit/core';
import { handlerApi } from '@ssekit/core/integration';

/**
 * Options of {@link koaSse}: every option of `@ssekit/core`'s `SseOptions`, with `authorize`
 * receiving the Koa context (so it can read `ctx.state`) and `schemas` keyed by the names of `E`.
 */
export type KoaSseOptions<E extends EventMap = AnyEvents> = SseOptions<Koa.Context, E>;

/** The middleware returned by {@link koaSse}, with the hub, a stream count and `close()`. */
export interface KoaSseMiddleware<H = Broadcaster> extends SseMiddlewareApi<H> {
  /** Adds `ctx.sse()` and `ctx.sseHub`, then runs the downstream middleware. */
  (ctx: Koa.ExtendableContext, next: Koa.Next): Promise<void>;
}

declare module 'koa' {
  interface ExtendableContext {
    /**
     * Opens an event stream for this request (added by `@ssekit/koa`); see `OpenStream`. Koa
     * then leaves the response alone (`ctx.respond = false`).
     */
    sse: OpenStream;
    /** The hub of the `@ssekit/koa` middleware. */
    sseHub: Broadcaster;
  }
}

/** Marks a context whose `onerror` already lets client disconnects pass. */
const kQuiet: unique symbol = Symbol('ssekit.koa.quietDisconnects');

/**
 * Koa reports a socket error on a finished-or-not response to `ctx.onerror`, which emits it on
 * the app (logged by default). A client dropping an event stream, even with a reset, is how
 * streams normally end: the connection records it as close reason `client`, and it is not an
 * application error. Wrapped once per context, however often `ctx.sse()` is called.
 */
function quietDisconnects(ctx: Koa.ExtendableContext): void {
  const marked = ctx as Koa.ExtendableContext & { [kQuiet]?: true };
  if (marked[kQuiet]) return;
  marked[kQuiet] = true;
  const onerror = ctx.onerror;
  ctx.onerror = (error: Error) => {
    if (error != null && isClientDisconnected(error)) return;
    onerror.call(ctx, error);
  };
}

/**
 * Creates the Koa middleware. Options are validated here: an invalid one (or an unknown key)
 * throws an `SseOptionsError` at once.
 *
 * `koaSse<Events>()` types the hub by the event map `Events` (name to data type, the type
 * `@ssekit/client`'s `connect<Events>()` reads): `sse.hub.broadcast()` and `broadcastTo()`
 * accept only its events. Streams are typed at `ctx.sse<Events>()`. The map is only ever
 * given, never inferred from the options. With a hub of your own, name its type too:
 * `koaSse<Events, MyHub>({ hub })`.
 *
 * @example
 * ```ts
 * const sse = koaSse({ heartbeatMs: 15_000 });
 * app.use(sse);
 * app.use(async (ctx) => {
 *   const conn = await ctx.sse({ topics: ['news'] });
 *   await conn.send({ data: 'hello' }); // false, not a rejection, if the client has left
 * });
 * sse.hub.broadcastTo('news', { data: { headline: 'ssekit 0.1' } });
 * ```
 */
export function koaSse<E extends EventMap = AnyEvents, H extends Broadcaster<E> = Hub<E>>(
  options: KoaSseOptions<NoInfer<E>> & { hub?: H } = {},
): KoaSseMiddleware<H> {
  const handler = createSseHandler<Koa.Context>(options as SseOptions<Koa.Context>);

  const middleware = (ctx: Koa.ExtendableContext, next: Koa.Next): Promise<void> => {
    ctx.sseHub = handler.hub;
    ctx.sse = (async (openOptions?: OpenOptions) => {
      quietDisconnects(ctx);
      try {
        const connection = await handler.open(ctx.req, ctx.res, openOptions, { request: ctx as Koa.Context, ip: ctx.ip });
        ctx.respond = false;
        return connection;
      } catch (error) {
        // Headers already out (a hub that failed to register the stream): the stream has been
        // ended, and Koa must not try to answer on top of it.
        if (ctx.res.headersSent) ctx.respond = false;
        throw error;
      }
    }) as OpenStream;
    return next().then(() => undefined);
  };

  return Object.assign(middleware, handlerApi<H, Koa.Context>(handler));
}

export default koaSse;
export { Hub, MemoryReplayer, SseClosedError, SseFormatError, SseHttpError, SseOptionsError, SseValidationError } from '@ssekit/core';
export type { Broadcaster, ClosableServer, Connection, EventMap, OpenOptions, OpenStream, SseEvent, SseMiddlewareApi, SseOptions, SseSchemas, SseStats } from '@ssekit/core';

/**
 * `@ssekit/express`: Server-Sent Events for Express.
 *
 * A plain middleware over the shared `@ssekit/core` handler: it adds `res.sse()` and publishes
 * the hub as `app.locals.sseHub`. A refused stream rejects `res.sse()` with an `SseHttpError`
 * before anything is written; Express 5 forwards the rejection of an async route to its error
 * handling, whose final handler answers with the error's `status` and `headers`. The package
 * re-exports what a quick start needs from `@ssekit/core`, so it is the only one to install.
 * @packageDocumentation
 */
import type { NextFunction, Request, Response } from 'express';
import {
  createSseHandler,
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
 * Options of {@link expressSse}: every option of `@ssekit/core`'s `SseOptions`, with
 * `authorize` receiving the Express request and `schemas` keyed by the names of `E`.
 */
export type ExpressSseOptions<E extends EventMap = AnyEvents> = SseOptions<Request, E>;

/** The middleware returned by {@link expressSse}, with the hub, a stream count and `close()`. */
export interface ExpressSseMiddleware<H = Broadcaster> extends SseMiddlewareApi<H> {
  /** Adds `res.sse()` and sets `app.locals.sseHub`, then calls `next()`. */
  (req: Request, res: Response, next: NextFunction): void;
}

declare global {
  // Express declares its extension points in the global `Express` namespace.
  namespace Express {
    interface Response {
      /** Opens an event stream for this request (added by `@ssekit/express`); see `OpenStream`. */
      sse: OpenStream;
    }
    interface Locals {
      /**
       * The hub of the `@ssekit/express` middleware, set no later than the first request that
       * passes it. Use the middleware's `hub` property to reach it before that.
       */
      sseHub?: Broadcaster;
    }
  }
}

/**
 * Creates the Express middleware. Options are validated here: an invalid one (or an unknown
 * key) throws an `SseOptionsError` at once.
 *
 * `expressSse<Events>()` types the hub by the event map `Events` (name to data type, the type
 * `@ssekit/client`'s `connect<Events>()` reads): `sse.hub.broadcast()` and `broadcastTo()`
 * accept only its events. Streams are typed at `res.sse<Events>()`. The map is only ever
 * given, never inferred from the options. With a hub of your own, name its type too:
 * `expressSse<Events, MyHub>({ hub })`.
 *
 * @example
 * ```ts
 * const sse = expressSse({ heartbeatMs: 15_000 });
 * app.use(sse);
 * app.get('/events', async (req, res) => {
 *   const conn = await res.sse({ topics: ['news'] });
 *   await conn.send({ data: 'hello' }); // false, not a rejection, if the client has left
 * });
 * sse.hub.broadcastTo('news', { data: { headline: 'ssekit 0.1' } });
 * ```
 */
export function expressSse<E extends EventMap = AnyEvents, H extends Broadcaster<E> = Hub<E>>(
  options: ExpressSseOptions<NoInfer<E>> & { hub?: H } = {},
): ExpressSseMiddleware<H> {
  const handler = createSseHandler<Request>(options as SseOptions<Request>);

  const middleware = (req: Request, res: Response, next: NextFunction): void => {
    const locals = req.app.locals;
    if (locals.sseHub === undefined) locals.sseHub = handler.hub;
    res.sse = ((openOptions?: OpenOptions) => handler.open(req, res, openOptions, { request: req, ip: req.ip })) as OpenStream;
    next();
  };

  return Object.assign(middleware, handlerApi<H, Request>(handler));
}

export default expressSse;
export { Hub, MemoryReplayer, SseClosedError, SseFormatError, SseHttpError, SseOptionsError, SseValidationError } from '@ssekit/core';
export type { Broadcaster, ClosableServer, Connection, EventMap, OpenOptions, OpenStream, SseEvent, SseMiddlewareApi, SseOptions, SseSchemas, SseStats } from '@ssekit/core';

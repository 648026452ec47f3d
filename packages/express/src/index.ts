/**
 * `@ssekit/express`: Server-Sent Events for Express.
 *
 * A plain middleware over the shared `@ssekit/core` handler: it adds `res.sse()` and publishes
 * the hub as `app.locals.sseHub`. A refused stream rejects `res.sse()` with an `SseHttpError`
 * before anything is written; Express 5 forwards the rejection of an async route to its error
 * handling, whose final handler answers with the error's `status` and `headers`.
 * @packageDocumentation
 */
import type { NextFunction, Request, Response } from 'express';
import {
  createSseHandler,
  type Broadcaster,
  type Hub,
  type ClosableServer,
  type Connection,
  type OpenOptions,
  type SseOptions,
} from '@ssekit/core';

/**
 * Options of {@link expressSse}: every option of `@ssekit/core`'s `SseOptions`, with
 * `authorize` receiving the Express request.
 */
export type ExpressSseOptions = SseOptions<Request>;

/** The middleware returned by {@link expressSse}. */
export interface ExpressSseMiddleware<H extends Broadcaster = Broadcaster> {
  /** Adds `res.sse()` and sets `app.locals.sseHub`, then calls `next()`. */
  (req: Request, res: Response, next: NextFunction): void;
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

declare global {
  // Express declares its extension points in the global `Express` namespace.
  namespace Express {
    interface Response {
      /**
       * Opens an event stream for this request (added by `@ssekit/express`): validates topics,
       * applies limits and `authorize`, writes the headers, registers the stream on the hub and
       * replays what the client missed. Resolves with the connection once replay is written.
       *
       * Rejects with an `SseHttpError` (400, 403, 429 or 503, with `Retry-After` when relevant)
       * when the request is refused; nothing was written, so the error handler can answer.
       */
      sse(options?: OpenOptions): Promise<Connection>;
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
 * Creates the Express middleware. Options are validated here: an invalid one throws an
 * `SseOptionsError` at once.
 *
 * @example
 * ```ts
 * const sse = expressSse({ heartbeatMs: 15_000 });
 * app.use(sse);
 * app.get('/events', async (req, res) => {
 *   const conn = await res.sse({ topics: ['news'] });
 *   await conn.send({ data: 'hello' });
 * });
 * sse.hub.broadcastTo('news', { data: { headline: 'ssekit 0.1' } });
 * ```
 */
export function expressSse<H extends Broadcaster = Hub>(options: ExpressSseOptions & { hub?: H } = {}): ExpressSseMiddleware<H> {
  const handler = createSseHandler<Request>(options);

  const middleware = (req: Request, res: Response, next: NextFunction): void => {
    const locals = req.app.locals;
    if (locals.sseHub === undefined) locals.sseHub = handler.hub;
    res.sse = (call?: OpenOptions) => handler.open(req, res, call, { request: req, ip: req.ip });
    next();
  };

  return Object.assign(middleware, {
    // The hub given in the options, or the in-memory Hub the handler created.
    hub: handler.hub as H,
    connectionCount: () => handler.connectionCount(),
    close: (server?: ClosableServer) => handler.close(server),
  });
}

export default expressSse;
export type { Broadcaster, ClosableServer, Connection, OpenOptions } from '@ssekit/core';

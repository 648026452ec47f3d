/**
 * `@ssekit/fastify`: Server-Sent Events for Fastify.
 *
 * A plugin over the shared `@ssekit/core` handler: it decorates `app.sseHub`,
 * `app.sseConnectionCount()` and `reply.sse()`. A stream takes the reply over with
 * `reply.hijack()` once it is open, so Fastify sends nothing else on it. A refused stream
 * rejects `reply.sse()` with an `SseHttpError` before anything is written, and Fastify's error
 * handling answers with its `statusCode` and `headers`. Open streams are ended in a `preClose`
 * hook: by `onClose` the server would already be waiting for them. The package re-exports what
 * a quick start needs from `@ssekit/core`, so it is the only one to install.
 * @packageDocumentation
 */
import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest, RegisterOptions } from 'fastify';
import fp from 'fastify-plugin';
import {
  createSseHandler,
  SseOptionsError,
  type AnyEvents,
  type Broadcaster,
  type Connection,
  type EventMap,
  type Hub,
  type OpenOptions,
  type OpenStream,
  type SseHandler,
  type SseOptions,
  type SseStats,
} from '@ssekit/core';

/**
 * Options of {@link fastifySse}: every option of `@ssekit/core`'s `SseOptions`, with
 * `authorize` receiving the Fastify request.
 */
export type FastifySseOptions = SseOptions<FastifyRequest>;

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * The hub of the `@ssekit/fastify` plugin: broadcast through it. Typed as a `Broadcaster`
     * (a declaration merge cannot carry the type of the hub you passed): write
     * `app.sseHub as Hub` for the in-memory hub's extras (hooks, `topicNames()`), or
     * `typedSse<Events>(app).hub` for a hub typed by an event map.
     */
    sseHub: Broadcaster;
    /** Number of streams open through the `@ssekit/fastify` plugin. */
    sseConnectionCount(): number;
    /** A snapshot of the streams, closes and refusals of the `@ssekit/fastify` plugin, for health endpoints. */
    sseStats(): SseStats;
  }
  interface FastifyReply {
    /**
     * Opens an event stream for this request (added by `@ssekit/fastify`); see `OpenStream`.
     * The reply is then hijacked, so return nothing (or `reply`) from the handler.
     */
    sse: OpenStream;
  }
}

function openOn(handler: SseHandler<FastifyRequest>, reply: FastifyReply, openOptions: OpenOptions | undefined): Promise<Connection> {
  const request = reply.request;
  // Hooks set headers on the reply (CORS, for one), which Fastify writes only when it sends
  // the reply itself. The stream writes the raw response: hand them over first. Should the
  // stream be refused, Fastify's error response sets the same values again.
  const raw = reply.raw;
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if (value !== undefined && !raw.hasHeader(name)) raw.setHeader(name, value);
  }
  return handler.open(request.raw, reply.raw, openOptions, { request, ip: request.ip }).then(
    (connection) => {
      reply.hijack();
      return connection;
    },
    (error: unknown) => {
      // Headers already out (a hub that failed to register the stream): the stream has been
      // ended, and Fastify must not try to send an error response on top of it.
      if (reply.raw.headersSent) reply.hijack();
      throw error;
    },
  );
}

const plugin: FastifyPluginCallback<FastifySseOptions> = (fastify, options, done) => {
  let handler: SseHandler<FastifyRequest>;
  try {
    // Fastify reads these registration options itself and passes them on to every plugin.
    const { prefix: _prefix, logLevel: _logLevel, logSerializers: _logSerializers, ...sseOptions } = options as FastifySseOptions & RegisterOptions;
    handler = createSseHandler<FastifyRequest>(sseOptions);
  } catch (error) {
    done(error as Error);
    return;
  }
  fastify.decorate('sseHub', handler.hub);
  fastify.decorate('sseConnectionCount', () => handler.connectionCount());
  fastify.decorate('sseStats', () => handler.stats());
  fastify.decorateReply('sse', function sse(this: FastifyReply, openOptions?: OpenOptions): Promise<Connection> {
    return openOn(handler, this, openOptions);
  } as OpenStream);
  // End the streams before Fastify closes the server, which waits for open connections.
  fastify.addHook('preClose', (hookDone) => {
    handler.close().then(() => hookDone(), hookDone);
  });
  done();
};

/**
 * The Fastify plugin (wrapped with `fastify-plugin`, so its decorators are visible to the
 * whole app). Options are validated first: an invalid one (or an unknown key; Fastify's own
 * `prefix`, `logLevel` and `logSerializers` aside) makes `register()` (or `ready()`) reject
 * with an `SseOptionsError`.
 *
 * @example
 * ```ts
 * await app.register(fastifySse, { heartbeatMs: 15_000 });
 * app.get('/events', async (request, reply) => {
 *   const conn = await reply.sse({ topics: ['news'] });
 *   await conn.send({ data: 'hello' }); // false, not a rejection, if the client has left
 * });
 * app.sseHub.broadcastTo('news', { data: { headline: 'ssekit 0.1' } });
 * ```
 */
export const fastifySse: FastifyPluginCallback<FastifySseOptions> = fp(plugin, {
  fastify: '5.x',
  name: '@ssekit/fastify',
});

/** The plugin's hub and streams of one app, typed by an event map `E`: see {@link typedSse}. */
export interface TypedFastifySse<E extends EventMap = AnyEvents, H extends Broadcaster<E> = Hub<E>> {
  /** The plugin's hub (`app.sseHub`), whose `broadcast` and `broadcastTo` accept only events of `E`. */
  readonly hub: H;
  /** Opens an event stream for `reply` (`reply.sse()`), its `send` and `pipe` typed by `E`. */
  open(reply: FastifyReply, openOptions?: OpenOptions): Promise<Connection<E>>;
  /** Number of streams open through the plugin (`app.sseConnectionCount()`). */
  connectionCount(): number;
}

/**
 * The plugin's decorators of `app`, typed by the event map `E` (name to data type, the type
 * `@ssekit/client`'s `connect<Events>()` reads). A declaration merge types `app.sseHub` for
 * every app of the process, so it cannot carry one app's map: this accessor does, at no cost
 * (it reads the decorators, adds nothing to them and checks nothing per event; give the plugin
 * `schemas` for run-time checks). Call it once the plugin is registered, for example:
 *
 * ```ts
 * await app.register(fastifySse, { schemas });
 * const sse = typedSse<Events>(app);
 * sse.hub.broadcast({ event: 'tick', data: { price: 1 } });
 * app.get('/events', async (request, reply) => {
 *   const conn = await sse.open(reply, { topics: ['ticker'] });
 * });
 * ```
 *
 * With a hub of your own, name its type too: `typedSse<Events, MyHub>(app)`.
 * @throws {SseOptionsError} when the plugin is not registered on `app` (or not yet).
 */
export function typedSse<E extends EventMap = AnyEvents, H extends Broadcaster<E> = Hub<E>>(app: FastifyInstance): TypedFastifySse<E, H> {
  if (!app.hasDecorator('sseHub')) {
    throw new SseOptionsError('app', undefined, 'has no @ssekit/fastify plugin: await app.register(fastifySse) first');
  }
  return {
    hub: app.sseHub as unknown as H,
    open: (reply, openOptions) => reply.sse<E>(openOptions),
    connectionCount: () => app.sseConnectionCount(),
  };
}

export default fastifySse;
export { Hub, MemoryReplayer, SseClosedError, SseFormatError, SseHttpError, SseOptionsError, SseValidationError } from '@ssekit/core';
export type { Broadcaster, ClosableServer, Connection, EventMap, OpenOptions, OpenStream, SseEvent, SseOptions, SseSchemas, SseStats } from '@ssekit/core';

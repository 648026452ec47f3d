/**
 * `fetchSse()`: the adapter for handlers that take a `Request` and return a `Response`.
 */
import {
  createSseHandler,
  SseConnection,
  SseOptionsError,
  type AnyEvents,
  type Broadcaster,
  type Connection,
  type ConnectionOptions,
  type EventMap,
  type Hub,
  type OpenOptions,
  type SseHeaders,
  type SseOptions,
  type SseStats,
} from '@ssekit/core';
import { refusal } from './refusal.js';
import { WebStreamSink } from './web-stream-sink.js';

/**
 * The default heartbeat of {@link fetchSse}: under Bun's default `idleTimeout` of 10 s, which
 * closes a response that sends nothing for that long.
 */
export const FETCH_HEARTBEAT_MS = 8000;

/**
 * Options of {@link fetchSse}: every option of the Express, Fastify and Koa adapters except
 * `provider` (which opens Node responses), with `authorize` receiving the `Request` and
 * `schemas` keyed by the names of `E`.
 *
 * `heartbeatMs` defaults to {@link FETCH_HEARTBEAT_MS} (8000) rather than 15000, so a stream
 * stays open under Bun's default idle timeout.
 */
export type FetchSseOptions<E extends EventMap = AnyEvents> = Omit<SseOptions<Request, E>, 'provider'>;

/** Per-stream options of {@link FetchSse.response}. */
export interface FetchOpenOptions extends OpenOptions {
  /**
   * The client address, for `maxConnectionsPerIp`: a Fetch `Request` does not carry it. Pass
   * the runtime's (`server.requestIP(req)` in Bun, `info.remoteAddr` in Deno, `getConnInfo(c)`
   * in Hono). Without it, every request counts against one shared `'unknown'` address.
   */
  ip?: string;
}

/**
 * Called once a stream is open and replay has been written, with its connection, whose `send`
 * and `pipe` accept only the events of `E`.
 */
export type OnOpen<E extends EventMap = AnyEvents> = (connection: Connection<E>) => unknown;

/**
 * What {@link fetchSse} returns: `H` is the hub's type, `E` the event map of the connections
 * given to `onOpen` (untyped by default).
 */
export interface FetchSse<H = Broadcaster, E extends EventMap = AnyEvents> {
  /** The broadcaster every stream is registered on: broadcast through it. */
  readonly hub: H;
  /**
   * Answers one request with an event stream. Resolves with a `200 text/event-stream`
   * `Response` as soon as its headers can go (before replay, which the client reads from the
   * body), or with the refusal as a plain-text `Response`: 400 (bad topic), 403 (`authorize`
   * said no), 429 (`maxConnectionsPerIp`), 503 (`maxConnections` or shutdown; both with
   * `Retry-After`), or the status of an `SseHttpError` that `authorize` threw. Never rejects.
   *
   * `onOpen` runs once replay has been written; if it throws or rejects, the stream is closed
   * and the error is rethrown outside the request.
   */
  response(request: Request, options?: FetchOpenOptions, onOpen?: OnOpen<E>): Promise<Response>;
  /** Number of streams open now. */
  connectionCount(): number;
  /** A snapshot of the streams, closes and refusals, for health endpoints (see `SseStats`). */
  stats(): SseStats;
  /**
   * Ends every stream with a final `retry:` hint and answers new requests with 503. Resolves
   * once every stream has closed.
   */
  close(): Promise<void>;
}

/** The answer when the client left before its stream opened: nobody reads it. */
const GONE = (): Response => new Response(null, { status: 204 });

/**
 * Creates the Fetch adapter. Options are validated here: an invalid or unknown one throws an
 * `SseOptionsError` at once.
 *
 * `fetchSse<Events>()` types it by the event map `Events` (name to data type, the type
 * `@ssekit/client`'s `connect<Events>()` reads): `sse.hub.broadcast()` and `broadcastTo()`, and
 * `send` and `pipe` of the connection given to `onOpen`, accept only its events. The map is
 * only ever given, never inferred from the options. With a hub of your own, name its type too:
 * `fetchSse<Events, MyHub>({ hub })`.
 *
 * @example
 * ```ts
 * const sse = fetchSse({ replayer: new MemoryReplayer({ maxEvents: 1000 }) });
 * // Hono:     app.get('/events', (c) => sse.response(c.req.raw, { topics: ['news'] }));
 * // Next.js:  export const GET = (request: Request) => sse.response(request);
 * // Bun:      Bun.serve({ fetch: (req) => sse.response(req) });
 * // Deno:     Deno.serve((req) => sse.response(req));
 * sse.hub.broadcastTo('news', { data: { headline: 'ssekit' } });
 * ```
 */
export function fetchSse<E extends EventMap = AnyEvents, H extends Broadcaster<E> = Hub<E>>(
  options: FetchSseOptions<NoInfer<E>> & { hub?: H } = {},
): FetchSse<H, E> {
  if (typeof options === 'object' && options !== null && 'provider' in options) {
    throw new SseOptionsError('provider', (options as { provider?: unknown }).provider, 'is not an option of fetchSse (a provider opens Node.js responses)');
  }
  // Every other option, and every unknown key, is checked by the shared handler.
  const given = options as SseOptions<Request>;
  const withDefaults: SseOptions<Request> =
    typeof given === 'object' && given !== null ? { ...given, heartbeatMs: given.heartbeatMs ?? FETCH_HEARTBEAT_MS } : given;
  const handler = createSseHandler<Request>(withDefaults);

  return {
    hub: handler.hub as H,
    connectionCount: () => handler.connectionCount(),
    stats: () => handler.stats(),
    close: () => handler.close(),

    response(request, openOptions, onOpen) {
      return new Promise<Response>((resolve) => {
        let sink: WebStreamSink | undefined;
        let answered = false;
        const answer = (response: Response): void => {
          answered = true;
          resolve(response);
        };
        const opened = (body: ReadableStream<Uint8Array>, headers: SseHeaders): void => {
          answer(new Response(body, { status: 200, headers }));
        };
        const connect = (perConnection: ConnectionOptions): Connection => {
          sink = new WebStreamSink(request.signal, opened);
          return new SseConnection(sink, perConnection);
        };
        const { ip, ...call } = openOptions ?? {};
        handler
          .openStream(
            { request, ip, url: request.url, header: (name) => request.headers.get(name) ?? undefined },
            call,
            connect,
          )
          .then(
            async (conn) => {
              // The client left before the headers could go: nobody reads this answer.
              if (!answered) answer(GONE());
              if (onOpen === undefined || conn.closed) return;
              try {
                await onOpen(conn as Connection<E>);
              } catch (error) {
                conn.close();
                queueMicrotask(() => {
                  throw error;
                });
              }
            },
            (error: unknown) => {
              // Refused before the stream opened: answer with the status. Past the headers the
              // stream has already been ended by the handler, and the client retries.
              if (!answered) answer(sink === undefined ? refusal(error) : GONE());
            },
          );
      });
    },
  };
}

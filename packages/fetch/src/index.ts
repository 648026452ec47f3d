/**
 * `@ssekit/fetch`: Server-Sent Events for every Fetch-API runtime (Hono, Next.js route handlers,
 * Bun, Deno, Cloudflare Workers, SvelteKit, Remix).
 *
 * `fetchSse()` has the same options, hub, replay, limits, `authorize` and slow-client policy as
 * the Express, Fastify and Koa adapters, over a `ReadableStream` body. A refused request is
 * answered with a `Response` carrying its status, never an exception.
 * @packageDocumentation
 */
export {
  fetchSse,
  FETCH_HEARTBEAT_MS,
  type FetchSse,
  type FetchSseOptions,
  type FetchOpenOptions,
  type OnOpen,
} from './fetch-sse.js';
export { WebStreamSink, type SinkOpened } from './web-stream-sink.js';
export { fetchSse as default } from './fetch-sse.js';
export {
  Hub,
  MemoryReplayer,
  SseHttpError,
  SseFormatError,
  SseOptionsError,
  SseClosedError,
  SseValidationError,
  type Broadcaster,
  type Connection,
  type SseEvent,
  type CloseReason,
} from '@ssekit/core';

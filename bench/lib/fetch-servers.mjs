/**
 * The Fetch-API servers under test, one module for every runtime: each `create(serve)` returns a
 * `(Request) => Response` handler for `GET /sse` plus `broadcast(payload)` and `count()`, and
 * `serve` (from fetch-serve.mjs) puts it on the runtime's own server (@hono/node-server on Node,
 * Bun.serve, Deno.serve). Plain ESM on Web APIs, so Node, Bun and Deno load it unchanged.
 *
 * `raw-stream` is the practical limit on each runtime: a Set of ReadableStream controllers and
 * one pre-encoded chunk enqueued to each, with no library between.
 */
import { importWorkspace } from '@ssekit/harness/workspace';

const HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
};
const OPENING = new TextEncoder().encode(':\n\n');

const notFound = () => new Response(null, { status: 404 });
const isSse = (request) => new URL(request.url).pathname === '/sse';

/** Each entry: label, the runtimes it runs on, and `create()`. */
export const FETCH_SERVERS = {
  'raw-stream': {
    label: 'raw ReadableStream loop',
    async create() {
      const controllers = new Set();
      const encoder = new TextEncoder();
      return {
        fetch(request) {
          if (!isSse(request)) return notFound();
          let mine;
          const body = new ReadableStream({
            start(controller) {
              mine = controller;
              controllers.add(controller);
              // Bun sends the headers with the first chunk.
              controller.enqueue(OPENING);
            },
            cancel() {
              controllers.delete(mine);
            },
          });
          request.signal.addEventListener('abort', () => controllers.delete(mine), { once: true });
          return new Response(body, { headers: HEADERS });
        },
        broadcast(payload) {
          const bytes = encoder.encode(`data: ${JSON.stringify(payload)}\n\n`);
          for (const controller of controllers) {
            try {
              controller.enqueue(bytes);
            } catch {
              controllers.delete(controller);
            }
          }
        },
        count: () => controllers.size,
      };
    },
  },
  fetch: {
    label: '@ssekit/fetch',
    needs: '@ssekit/fetch',
    async create() {
      const { fetchSse } = await importWorkspace('@ssekit/fetch');
      const sse = fetchSse({ heartbeatMs: 0 });
      return {
        fetch: (request) => (isSse(request) ? sse.response(request) : notFound()),
        broadcast: (payload) => sse.hub.broadcast({ data: payload }),
        count: () => sse.hub.connectionCount(),
      };
    },
  },
  'hono-streamsse': {
    label: "Hono's streamSSE",
    async create() {
      const { Hono } = await import('hono');
      const { streamSSE } = await import('hono/streaming');
      const streams = new Set();
      const app = new Hono();
      app.get('/sse', (c) =>
        streamSSE(c, async (stream) => {
          streams.add(stream);
          await stream.write(':\n\n');
          await new Promise((resolve) => stream.onAbort(resolve));
          streams.delete(stream);
        }),
      );
      return {
        fetch: app.fetch,
        // streamSSE's natural use: each stream formats and writes the event itself.
        broadcast(payload) {
          const data = JSON.stringify(payload);
          for (const stream of streams) stream.writeSSE({ data }).catch(() => streams.delete(stream));
        },
        count: () => streams.size,
      };
    },
  },
  'better-sse-fetch': {
    label: 'better-sse 0.16.1 (Fetch, channel)',
    runtimes: ['node'],
    async create() {
      const { createChannel, createResponse } = await import('better-sse');
      const channel = createChannel();
      return {
        fetch: (request) => (isSse(request) ? createResponse(request, (session) => channel.register(session)) : notFound()),
        broadcast: (payload) => channel.broadcast(payload),
        count: () => channel.sessionCount,
      };
    },
  },
};

/**
 * Serves a fetch handler on the runtime this process runs on, on 127.0.0.1 and a free port:
 * Bun.serve, Deno.serve, or @hono/node-server on Node. Resolves with the port.
 */

/** The runtime of this process. */
export const RUNTIME = typeof globalThis.Bun !== 'undefined' ? 'bun' : typeof globalThis.Deno !== 'undefined' ? 'deno' : 'node';

export async function serveFetch(fetch) {
  if (RUNTIME === 'bun') {
    // Streams are idle between broadcasts; heartbeats are off in the benchmark.
    const server = globalThis.Bun.serve({ hostname: '127.0.0.1', port: 0, fetch, idleTimeout: 0 });
    return server.port;
  }
  if (RUNTIME === 'deno') {
    return new Promise((resolve) => {
      globalThis.Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: ({ port }) => resolve(port) }, fetch);
    });
  }
  const { serve } = await import('@hono/node-server');
  return new Promise((resolve) => {
    serve({ fetch, hostname: '127.0.0.1', port: 0 }, (info) => resolve(info.port));
  });
}

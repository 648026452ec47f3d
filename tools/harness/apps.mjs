/**
 * One app per adapter: an HTTP server whose `GET <path>` opens its stream the way that
 * framework's users do (`handler.open()` on node:http, `res.sse()`, `reply.sse()`,
 * `ctx.sse()`), with one shape for everything around it: the hub, the open-stream count,
 * `listen()` on port 0 and the documented shutdown. The framework and ssekit modules are
 * arguments, so the tests pass TypeScript sources, the benchmark and the stress scenarios pass
 * the builds: when an adapter's API changes, this is the one file that follows.
 */
import http from 'node:http';

/** @typedef {import('@ssekit/core').Broadcaster} Broadcaster */
/** @typedef {import('@ssekit/core').Connection} Connection */
/** @typedef {import('@ssekit/core').OpenOptions} OpenOptions */
/** @typedef {'node' | 'express' | 'fastify' | 'koa'} AdapterName */

/**
 * @typedef {object} AppModules
 * @property {object} ssekit `@ssekit/core` for `node`, else the adapter package
 * @property {unknown} [framework] the framework's default export: `express`, `Fastify`, `Koa`
 *   (none for `node`)
 */

/**
 * Opens the stream of the current request.
 * @typedef {(options?: OpenOptions) => Promise<Connection>} Open
 */

/**
 * @typedef {object} BuildOptions
 * @property {import('@ssekit/core').SseOptions<unknown>} [sse] options of the handler or adapter (default none)
 * @property {string} [path] the stream's path (default `/events`); other paths answer 404
 * @property {(open: Open, url: string) => unknown} [route] the route handler: `url` is the
 *   request's path and query; a throw or a rejection goes to the framework's error handling
 *   (default: `open()` with no options)
 * @property {(app: unknown) => unknown} [prepare] called with the framework's app before the
 *   adapter is installed: middleware or plugins that must run first (compression, CORS)
 * @property {string[]} [logs] collects what the framework logs at warning level or above
 *   (Fastify's logger, Koa's error events, and for Express what reaches its error handling,
 *   which it logs itself only outside NODE_ENV=test); without it Fastify logs nothing
 * @property {boolean} [quiet] refusals and failed routes are answered without logging
 *   (Express, Koa); default false: each framework's own behaviour
 */

/**
 * @typedef {object} App
 * @property {AdapterName} adapter
 * @property {http.Server} server
 * @property {unknown} app the framework's app (the node:http server for `node`)
 * @property {Broadcaster} hub
 * @property {() => number} connectionCount streams open through this app's handler or adapter
 * @property {() => import('@ssekit/core').SseStats} stats the adapter's `stats()` snapshot
 * @property {(options?: { port?: number, host?: string, backlog?: number }) => Promise<number>} listen
 *   listens (default 127.0.0.1, port 0, backlog 511) and resolves with the port
 * @property {() => Promise<void>} close the adapter's documented shutdown: ends every stream,
 *   then closes the server if it listens (idempotent)
 */

/** Answers a refused or failed request on plain node:http. */
function refuse(res, error) {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(error?.status ?? 500, error?.headers ?? {}).end(String(error?.message ?? error));
}

/**
 * Listens (default 127.0.0.1, port 0, backlog 511) and resolves with the port.
 * @param {import('node:net').Server} server
 * @param {{ port?: number, host?: string, backlog?: number }} [options]
 * @returns {Promise<number>}
 */
export function listenOn(server, { port = 0, host = '127.0.0.1', backlog = 511 } = {}) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, backlog }, () => {
      server.off('error', reject);
      resolve(server.address().port);
    });
  });
}

function once(fn) {
  let done;
  return () => (done ??= fn());
}

/** Express and Koa: the adapter is a middleware with `hub`, `connectionCount()` and `close(server?)`. */
function middlewareApp(adapter, app, sse, server) {
  return {
    adapter,
    server,
    app,
    hub: sse.hub,
    connectionCount: () => sse.connectionCount(),
    stats: () => sse.stats(),
    listen: (how) => listenOn(server, how),
    close: once(() => sse.close(server.listening ? server : undefined)),
  };
}

/**
 * Builds (does not start) an app.
 * @param {AdapterName} adapter
 * @param {AppModules} modules
 * @param {BuildOptions} [options]
 * @returns {Promise<App>}
 */
export async function buildApp(adapter, modules, options = {}) {
  const { sse: sseOptions = {}, path = '/events', route = (open) => open(), prepare, logs, quiet = false } = options;
  const { ssekit, framework } = modules;

  if (adapter === 'node') {
    const handler = ssekit.createSseHandler(sseOptions);
    const server = http.createServer((req, res) => {
      const url = req.url ?? '/';
      if (new URL(url, 'http://localhost').pathname !== path) {
        res.writeHead(404).end();
        return;
      }
      let routed;
      try {
        routed = route((o) => handler.open(req, res, o), url);
      } catch (error) {
        refuse(res, error);
        return;
      }
      Promise.resolve(routed).catch((error) => refuse(res, error));
    });
    return {
      adapter,
      server,
      app: server,
      hub: handler.hub,
      connectionCount: () => handler.connectionCount(),
      stats: () => handler.stats(),
      listen: (how) => listenOn(server, how),
      close: once(() => handler.close(server.listening ? server : undefined)),
    };
  }

  if (adapter === 'express') {
    const sse = ssekit.expressSse(sseOptions);
    const app = framework();
    await prepare?.(app);
    app.use(sse);
    app.get(path, async (req, res) => {
      await route((o) => res.sse(o), req.url);
    });
    if (logs) {
      // As for Koa, exposed (4xx-style) errors such as refusals are not problems.
      app.use((error, _req, _res, next) => {
        if (!error?.expose) logs.push(String(error?.stack ?? error));
        next(error);
      });
    }
    if (quiet) {
      // Answers refusals with their status and headers, and logs nothing.
      app.use((error, _req, res, _next) => refuse(res, error));
    }
    return middlewareApp(adapter, app, sse, http.createServer(app));
  }

  if (adapter === 'fastify') {
    const logger = logs ? { level: 'warn', stream: { write: (line) => void logs.push(line) } } : false;
    const app = framework({ logger });
    try {
      await prepare?.(app);
      await app.register(ssekit.fastifySse, sseOptions);
    } catch (error) {
      // Bad options surface here: the app goes, the error stays.
      await app.close().catch(() => {});
      throw error;
    }
    app.get(path, async (request, reply) => {
      await route((o) => reply.sse(o), request.url);
    });
    return {
      adapter,
      server: app.server,
      app,
      hub: app.sseHub,
      connectionCount: () => app.sseConnectionCount(),
      stats: () => app.sseStats(),
      async listen({ port = 0, host = '127.0.0.1', backlog = 511 } = {}) {
        await app.listen({ port, host, backlog });
        return app.server.address().port;
      },
      // Fastify's close runs the plugin's preClose (ends the streams), then closes the server.
      close: once(() => app.close()),
    };
  }

  if (adapter === 'koa') {
    const app = new framework();
    if (logs) {
      // A listener replaces Koa's default logger; exposed (4xx-style) errors are not problems.
      app.on('error', (error) => {
        if (!error.expose) logs.push(String(error.stack ?? error));
      });
    } else if (quiet) {
      app.silent = true;
    }
    const sse = ssekit.koaSse(sseOptions);
    await prepare?.(app);
    app.use(sse);
    app.use(async (ctx) => {
      if (ctx.path === path) await route((o) => ctx.sse(o), ctx.url);
    });
    return middlewareApp(adapter, app, sse, http.createServer(app.callback()));
  }

  throw new Error(`unknown adapter ${adapter}: expected node, express, fastify or koa`);
}

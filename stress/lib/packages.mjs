/**
 * Loads the built packages (`pnpm -r build` first). Adapters and the Redis backend are loaded
 * only when a scenario asks for them, so the core scenarios run on their own.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Path of a package's ESM build, or `undefined` when it has not been built. */
export function builtEntry(name) {
  const file = `${root}packages/${name}/dist/index.mjs`;
  return existsSync(file) ? file : undefined;
}

/** True when the package's build exports something beyond the empty skeleton. */
export async function isAvailable(name) {
  const entry = builtEntry(name);
  if (!entry) return false;
  const mod = await import(pathToFileURL(entry).href);
  return Object.keys(mod).length > 0;
}

const coreEntry = builtEntry('core');
if (!coreEntry) {
  throw new Error('packages/core is not built: run `npx -y pnpm@12.4.2 -r build` first');
}
export const core = await import(pathToFileURL(coreEntry).href);

async function load(name) {
  const entry = builtEntry(name);
  if (!entry) throw new Error(`packages/${name} is not built`);
  return import(pathToFileURL(entry).href);
}

export async function loadRedis() {
  const redis = await load('redis');
  const { default: Redis } = await import('ioredis');
  return { ...redis, Redis };
}

/**
 * One factory per adapter: `(options, hooks) => { server, hub, connectionCount, shutdown }`.
 * `hooks.topicsOf(url)`, `hooks.wantsClose(url)` and `hooks.track(connection)` come from the
 * server process.
 */
export const adapters = {
  async express(options, hooks) {
    const { default: express } = await import('express');
    const { expressSse } = await load('express');
    const sse = expressSse(options);
    const app = express();
    app.use(sse);
    app.get('/events', async (req, res) => {
      const connection = await res.sse({ topics: hooks.topicsOf(req.url) });
      hooks.track(connection);
      if (hooks.wantsClose(req.url)) connection.close();
    });
    // Quiet error handler: refusals are expected under stress, and Express would log them.
    app.use((error, req, res, next) => {
      if (res.headersSent) return next(error);
      res.status(error.status ?? 500).set(error.headers ?? {}).send(String(error.message));
    });
    const { createServer } = await import('node:http');
    return { server: createServer(app), hub: sse.hub, connectionCount: () => sse.connectionCount(), shutdown: () => sse.close() };
  },

  async fastify(options, hooks) {
    const { default: Fastify } = await import('fastify');
    const { fastifySse } = await load('fastify');
    const app = Fastify({ logger: false });
    await app.register(fastifySse, options);
    app.get('/events', async (request, reply) => {
      const connection = await reply.sse({ topics: hooks.topicsOf(request.url) });
      hooks.track(connection);
      if (hooks.wantsClose(request.url)) connection.close();
    });
    await app.ready();
    return {
      server: app.server,
      hub: app.sseHub,
      connectionCount: () => app.sseHub.connectionCount(),
      listen: () => app.listen({ port: 0, host: '127.0.0.1' }),
      // Fastify's close runs the plugin's preClose (ends the streams) and closes the server.
      shutdown: () => app.close(),
      closesServer: true,
    };
  },

  async koa(options, hooks) {
    const { default: Koa } = await import('koa');
    const { koaSse } = await load('koa');
    const app = new Koa();
    app.silent = true;
    const sse = koaSse(options);
    app.use(sse);
    app.use(async (ctx) => {
      if (ctx.path !== '/events') return;
      const connection = await ctx.sse({ topics: hooks.topicsOf(ctx.url) });
      hooks.track(connection);
      if (hooks.wantsClose(ctx.url)) connection.close();
    });
    const { createServer } = await import('node:http');
    return { server: createServer(app.callback()), hub: sse.hub, connectionCount: () => sse.connectionCount(), shutdown: () => sse.close() };
  },
};

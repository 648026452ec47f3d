/**
 * The servers under test. Each `create()` starts an HTTP server whose `GET /sse` opens an event
 * stream, and returns `broadcast(payload)` (payload: a plain object, JSON-encoded the way the
 * library in question naturally does it) plus a count of open streams.
 *
 * The "raw" servers are the practical limit: a Set of responses and one pre-encoded Buffer
 * written to each, with no library between. Behind a framework, the raw servers measure what
 * the framework itself costs, so an adapter is compared with raw writes behind the same one.
 */
import http from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { builtEntry, importWorkspace } from './workspace.mjs';

const HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
  Connection: 'keep-alive',
};

/** Raw fan-out shared by the raw servers. */
function rawFanout() {
  const clients = new Set();
  return {
    attach(req, res) {
      res.writeHead(200, HEADERS);
      res.flushHeaders();
      clients.add(res);
      res.on('close', () => clients.delete(res));
    },
    broadcast(payload) {
      const bytes = Buffer.from(`data: ${JSON.stringify(payload)}\n\n`);
      for (const res of clients) res.write(bytes);
    },
    count: () => clients.size,
  };
}

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => resolve(server.address().port));
  });
}

function notFound(res) {
  res.statusCode = 404;
  res.end();
}

/** Each entry: label, group (for ratio targets), what it needs, and `create()`. */
export const SERVERS = {
  'raw-http': {
    label: 'raw node:http',
    framework: 'http',
    async create() {
      const fan = rawFanout();
      const server = http.createServer((req, res) => (req.url === '/sse' ? fan.attach(req, res) : notFound(res)));
      return { server, port: await listen(server), broadcast: fan.broadcast, count: fan.count };
    },
  },
  'raw-express': {
    label: 'raw writes behind Express',
    framework: 'express',
    async create() {
      const { default: express } = await import('express');
      const fan = rawFanout();
      const app = express();
      app.get('/sse', (req, res) => fan.attach(req, res));
      const server = http.createServer(app);
      return { server, port: await listen(server), broadcast: fan.broadcast, count: fan.count };
    },
  },
  'raw-fastify': {
    label: 'raw writes behind Fastify',
    framework: 'fastify',
    async create() {
      const { default: Fastify } = await import('fastify');
      const fan = rawFanout();
      const app = Fastify({ logger: false });
      app.get('/sse', (request, reply) => {
        reply.hijack();
        fan.attach(request.raw, reply.raw);
      });
      await app.listen({ host: '127.0.0.1', port: 0, backlog: 4096 });
      return { server: app.server, port: app.server.address().port, broadcast: fan.broadcast, count: fan.count };
    },
  },
  'raw-koa': {
    label: 'raw writes behind Koa',
    framework: 'koa',
    async create() {
      const { default: Koa } = await import('koa');
      const fan = rawFanout();
      const app = new Koa();
      // Clients leave with a reset; Koa would log each one as an application error.
      app.silent = true;
      app.use((ctx) => {
        if (ctx.path !== '/sse') return;
        ctx.respond = false;
        fan.attach(ctx.req, ctx.res);
      });
      const server = http.createServer(app.callback());
      return { server, port: await listen(server), broadcast: fan.broadcast, count: fan.count };
    },
  },
  'core-http': {
    label: '@ssekit/core on node:http',
    framework: 'http',
    needs: '@ssekit/core',
    async create() {
      const { createSseHandler } = await (this.load?.() ?? importWorkspace('@ssekit/core'));
      const sse = createSseHandler();
      const server = http.createServer((req, res) => {
        if (req.url !== '/sse') return notFound(res);
        sse.open(req, res).catch(() => res.destroy());
      });
      return {
        server,
        port: await listen(server),
        broadcast: (payload) => sse.hub.broadcast({ data: payload }),
        count: () => sse.hub.connectionCount(),
      };
    },
  },
  express: {
    label: '@ssekit/express',
    framework: 'express',
    needs: '@ssekit/express',
    async create() {
      const { default: express } = await import('express');
      const { expressSse } = await (this.load?.() ?? importWorkspace('@ssekit/express'));
      const sse = expressSse();
      const app = express();
      app.use(sse);
      app.get('/sse', async (req, res) => {
        try {
          await res.sse();
        } catch {
          res.destroy();
        }
      });
      const server = http.createServer(app);
      return {
        server,
        port: await listen(server),
        broadcast: (payload) => sse.hub.broadcast({ data: payload }),
        count: () => sse.hub.connectionCount(),
      };
    },
  },
  fastify: {
    label: '@ssekit/fastify',
    framework: 'fastify',
    needs: '@ssekit/fastify',
    async create() {
      const { default: Fastify } = await import('fastify');
      const { fastifySse } = await importWorkspace('@ssekit/fastify');
      const app = Fastify({ logger: false });
      await app.register(fastifySse);
      app.get('/sse', async (request, reply) => {
        await reply.sse();
        return reply;
      });
      await app.listen({ host: '127.0.0.1', port: 0, backlog: 4096 });
      return {
        server: app.server,
        port: app.server.address().port,
        broadcast: (payload) => app.sseHub.broadcast({ data: payload }),
        count: () => app.sseHub.connectionCount(),
      };
    },
  },
  koa: {
    label: '@ssekit/koa',
    framework: 'koa',
    needs: '@ssekit/koa',
    async create() {
      const { default: Koa } = await import('koa');
      const { koaSse } = await importWorkspace('@ssekit/koa');
      const sse = koaSse();
      const app = new Koa();
      app.use(sse);
      app.use(async (ctx) => {
        if (ctx.path === '/sse') await ctx.sse();
      });
      const server = http.createServer(app.callback());
      return {
        server,
        port: await listen(server),
        broadcast: (payload) => sse.hub.broadcast({ data: payload }),
        count: () => sse.hub.connectionCount(),
      };
    },
  },
  'better-sse': {
    label: 'better-sse 0.16.1 (channel)',
    framework: 'http',
    async create() {
      const { createChannel, createSession } = await import('better-sse');
      const channel = createChannel();
      const server = http.createServer(async (req, res) => {
        if (req.url !== '/sse') return notFound(res);
        try {
          channel.register(await createSession(req, res));
        } catch {
          res.destroy();
        }
      });
      return {
        server,
        port: await listen(server),
        broadcast: (payload) => channel.broadcast(payload),
        count: () => channel.sessionCount,
      };
    },
  },
};

/*
 * A/B builds of core: SSEKIT_BENCH_VARIANTS="old=/dir/a,new=/dir/b" adds servers
 * core-http@old, express@old, ... loading `<dir>/index.mjs` (core) and `<dir>/express.mjs`
 * (the Express adapter bundled with that core), so two builds are measured in one run.
 */
for (const pair of (process.env.SSEKIT_BENCH_VARIANTS ?? '').split(',').filter(Boolean)) {
  const [tag, dir] = pair.split('=');
  const load = (file) => import(pathToFileURL(join(dir, file)).href);
  SERVERS[`core-http@${tag}`] = { ...SERVERS['core-http'], label: `core on node:http (${tag})`, needs: undefined, load: () => load('index.mjs') };
  SERVERS[`express@${tag}`] = { ...SERVERS.express, label: `@ssekit/express (${tag})`, needs: undefined, load: () => load('express.mjs') };
}

/** Whether a server can run now (its workspace package is built). */
export function available(name) {
  const def = SERVERS[name];
  return Boolean(def) && (!def.needs || builtEntry(def.needs) !== undefined);
}

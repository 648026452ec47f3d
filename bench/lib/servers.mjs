/**
 * The servers under test. Each `create()` starts an HTTP server whose `GET /sse` opens an event
 * stream, and returns `broadcast(payload)` (payload: a plain object, JSON-encoded the way the
 * library in question naturally does it) plus a count of open streams.
 *
 * The "raw" servers are the practical limit: a Set of responses and one pre-encoded Buffer
 * written to each, with no library between. Behind a framework, the raw servers measure what
 * the framework itself costs, so an adapter is compared with raw writes behind the same one.
 * The ssekit servers are the harness's apps (`buildApp`) on the built packages.
 */
import http from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildApp, listenOn } from '@ssekit/harness/apps';
import { RUNTIMES } from '@ssekit/harness/runtimes';
import { builtEntry, importWorkspace } from '@ssekit/harness/workspace';
import { FETCH_SERVERS } from './fetch-servers.mjs';
import { serveFetch } from './fetch-serve.mjs';

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

function notFound(res) {
  res.statusCode = 404;
  res.end();
}

/** An ssekit server: the harness's app for `adapter` on the build `load()` returns. */
async function ssekitServer(adapter, load, sse = {}) {
  // The framework package has the adapter's name (express, fastify, koa).
  const framework = adapter === 'node' ? undefined : (await import(adapter)).default;
  const app = await buildApp(adapter, { ssekit: await load(), framework }, { path: '/sse', quiet: true, sse });
  const port = await app.listen({ backlog: 4096 });
  return { server: app.server, port, broadcast: (payload) => app.hub.broadcast({ data: payload }), count: () => app.hub.connectionCount() };
}

/** Each entry: label, group (for ratio targets), what it needs, and `create()`. */
export const SERVERS = Object.freeze({
  'raw-http': {
    label: 'raw node:http',
    framework: 'http',
    async create() {
      const fan = rawFanout();
      const server = http.createServer((req, res) => (req.url === '/sse' ? fan.attach(req, res) : notFound(res)));
      return { server, port: await listenOn(server, { backlog: 4096 }), broadcast: fan.broadcast, count: fan.count };
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
      return { server, port: await listenOn(server, { backlog: 4096 }), broadcast: fan.broadcast, count: fan.count };
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
      return { server, port: await listenOn(server, { backlog: 4096 }), broadcast: fan.broadcast, count: fan.count };
    },
  },
  'core-http': {
    label: '@ssekit/core on node:http',
    framework: 'http',
    needs: '@ssekit/core',
    create() {
      return ssekitServer('node', this.load ?? (() => importWorkspace('@ssekit/core')));
    },
  },
  'core-http-c20': {
    label: '@ssekit/core on node:http, coalesceMs: 20',
    framework: 'http',
    needs: '@ssekit/core',
    create() {
      return ssekitServer('node', this.load ?? (() => importWorkspace('@ssekit/core')), { coalesceMs: 20 });
    },
  },
  express: {
    label: '@ssekit/express',
    framework: 'express',
    needs: '@ssekit/express',
    create() {
      return ssekitServer('express', this.load ?? (() => importWorkspace('@ssekit/express')));
    },
  },
  fastify: {
    label: '@ssekit/fastify',
    framework: 'fastify',
    needs: '@ssekit/fastify',
    create() {
      return ssekitServer('fastify', () => importWorkspace('@ssekit/fastify'));
    },
  },
  koa: {
    label: '@ssekit/koa',
    framework: 'koa',
    needs: '@ssekit/koa',
    create() {
      return ssekitServer('koa', () => importWorkspace('@ssekit/koa'));
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
        port: await listenOn(server, { backlog: 4096 }),
        broadcast: (payload) => channel.broadcast(payload),
        count: () => channel.sessionCount,
      };
    },
  },
});

/**
 * The Fetch lanes: every server of fetch-servers.mjs on every runtime it runs on, named
 * `<server>-<runtime>` (`fetch-bun`, `raw-stream-deno`, ...). `runtime` says which binary
 * runs the server process; `framework` groups a runtime's lanes for the ratio targets.
 */
export const FETCH_LANES = Object.freeze(
  Object.fromEntries(
    Object.entries(FETCH_SERVERS).flatMap(([key, def]) =>
      RUNTIMES.filter((runtime) => !def.runtimes || def.runtimes.includes(runtime)).map((runtime) => [
        `${key}-${runtime}`,
        {
          label: `${def.label} on ${runtime === 'node' ? 'Node (@hono/node-server)' : runtime === 'bun' ? 'Bun.serve' : 'Deno.serve'}`,
          framework: `fetch-${runtime}`,
          runtime,
          needs: def.needs,
          async create() {
            const instance = await def.create();
            return { port: await serveFetch(instance.fetch), broadcast: instance.broadcast, count: instance.count };
          },
        },
      ]),
    ),
  ),
);

/**
 * A/B builds of core: `SSEKIT_BENCH_VARIANTS="old=/dir/a,new=/dir/b"` adds servers
 * core-http@old, express@old, ... loading `<dir>/index.mjs` (core) and `<dir>/express.mjs`
 * (the Express adapter bundled with that core), so two builds are measured in one run.
 * @param {string} [spec] default: `$SSEKIT_BENCH_VARIANTS`
 */
export function allServers(spec = process.env.SSEKIT_BENCH_VARIANTS ?? '') {
  const servers = { ...SERVERS, ...FETCH_LANES };
  for (const pair of spec.split(',').filter(Boolean)) {
    const [tag, dir] = pair.split('=');
    const load = (file) => import(pathToFileURL(join(dir, file)).href);
    servers[`core-http@${tag}`] = { ...SERVERS['core-http'], label: `core on node:http (${tag})`, needs: undefined, load: () => load('index.mjs') };
    servers[`express@${tag}`] = { ...SERVERS.express, label: `@ssekit/express (${tag})`, needs: undefined, load: () => load('express.mjs') };
  }
  return servers;
}

/** Whether a server of `servers` can run now (its workspace package is built). */
export function available(servers, name) {
  const def = servers[name];
  return Boolean(def) && (!def.needs || builtEntry(def.needs) !== undefined);
}

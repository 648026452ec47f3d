/**
 * One factory per adapter: "start an app with these options and this route, which opens its
 * stream with the framework's `sse()`". The contract suite runs every behaviour against each.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import compression from 'compression';
import cors from 'cors';
import Fastify from 'fastify';
import fastifyCompress from '@fastify/compress';
import fastifyCors from '@fastify/cors';
import Koa from 'koa';
import koaCompress from 'koa-compress';
import koaCors from '@koa/cors';
import type { Broadcaster, Connection, OpenOptions, SseOptions } from '@ssekit/core';
import { expressSse } from '@ssekit/express';
import { fastifySse } from '@ssekit/fastify';
import { koaSse } from '@ssekit/koa';

/** What a route sees, the same in every framework. */
export interface RouteContext {
  /** The framework's `res.sse()`, `reply.sse()` or `ctx.sse()`. */
  sse(options?: OpenOptions): Promise<Connection>;
  /** The request's query string. */
  query: URLSearchParams;
}

/** The handler of `GET /events`. Throwing (or rejecting) goes to the framework's error handling. */
export type Route = (ctx: RouteContext) => unknown;

/** Adapter options, with `authorize` seeing the framework's request as `unknown`. */
export type ContractOptions = SseOptions<unknown>;

export interface StartOptions {
  /** Put the framework's usual compression middleware in front of the route. */
  compress?: boolean;
  /** Put the framework's usual CORS middleware in front of the route, allowing every origin. */
  cors?: boolean;
}

/** A running app on 127.0.0.1, port 0. */
export interface RunningApp {
  /** Base URL of `GET /events`. */
  readonly url: string;
  readonly hub: Broadcaster;
  /** Every connection the route opened, in order. */
  readonly connections: Connection[];
  /** Warnings and errors the framework logged. */
  readonly logs: string[];
  /** The adapter's documented shutdown path: ends every stream and closes the server. */
  shutdown(): Promise<void>;
  /** Test teardown: drops any client still connected, then shuts down (idempotent). */
  close(): Promise<void>;
}

export interface Adapter {
  readonly name: 'express' | 'fastify' | 'koa';
  start(options: ContractOptions, route: Route, start?: StartOptions): Promise<RunningApp>;
  /** The registration step alone (factory call or `register()`), for option validation. */
  register(options: unknown): Promise<void>;
}

function listen(server: http.Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve(`http://127.0.0.1:${port}/events`);
    });
  });
}

/** Records what the route opens, and gives every framework the same route signature. */
function recorder(route: Route): { connections: Connection[]; run: (sse: RouteContext['sse'], url: string) => Promise<void> } {
  const connections: Connection[] = [];
  return {
    connections,
    async run(sse, url) {
      const query = new URL(url, 'http://localhost').searchParams;
      await route({
        sse: async (options) => {
          const connection = await sse(options);
          connections.push(connection);
          return connection;
        },
        query,
      });
    },
  };
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= fn());
}

export const expressAdapter: Adapter = {
  name: 'express',
  async start(options, route, start = {}) {
    const app = express();
    const sse = expressSse(options);
    const { connections, run } = recorder(route);
    if (start.compress) app.use(compression());
    if (start.cors) app.use(cors());
    app.use(sse);
    app.get('/events', async (req, res) => {
      await run((o) => res.sse(o), req.url);
    });
    const server = http.createServer(app);
    const url = await listen(server);
    const shutdown = once(() => sse.close(server));
    return {
      url,
      hub: sse.hub,
      connections,
      logs: [],
      shutdown,
      async close() {
        server.closeAllConnections();
        await shutdown();
      },
    };
  },
  async register(options) {
    expressSse(options as ContractOptions);
  },
};

export const fastifyAdapter: Adapter = {
  name: 'fastify',
  async start(options, route, start = {}) {
    const logs: string[] = [];
    const app = Fastify({ logger: { level: 'warn', stream: { write: (line: string) => void logs.push(line) } } });
    const { connections, run } = recorder(route);
    if (start.compress) await app.register(fastifyCompress);
    if (start.cors) await app.register(fastifyCors);
    await app.register(fastifySse, options);
    app.get('/events', async (request, reply) => {
      await run((o) => reply.sse(o), request.url);
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    const shutdown = once(() => app.close());
    return {
      url: `http://127.0.0.1:${port}/events`,
      hub: app.sseHub,
      connections,
      logs,
      shutdown,
      async close() {
        app.server.closeAllConnections();
        await shutdown();
      },
    };
  },
  async register(options) {
    const app = Fastify();
    try {
      await app.register(fastifySse, options as ContractOptions);
    } finally {
      await app.close();
    }
  },
};

export const koaAdapter: Adapter = {
  name: 'koa',
  async start(options, route, start = {}) {
    const logs: string[] = [];
    const app = new Koa();
    // A listener replaces Koa's default logger; exposed (4xx-style) errors are not problems.
    app.on('error', (error: Error & { expose?: boolean }) => {
      if (!error.expose) logs.push(String(error.stack ?? error));
    });
    const sse = koaSse(options);
    const { connections, run } = recorder(route);
    if (start.compress) app.use(koaCompress());
    if (start.cors) app.use(koaCors());
    app.use(sse);
    app.use(async (ctx) => {
      if (ctx.path === '/events') await run((o) => ctx.sse(o), ctx.url);
    });
    const server = http.createServer(app.callback());
    const url = await listen(server);
    const shutdown = once(() => sse.close(server));
    return {
      url,
      hub: sse.hub,
      connections,
      logs,
      shutdown,
      async close() {
        server.closeAllConnections();
        await shutdown();
      },
    };
  },
  async register(options) {
    koaSse(options as ContractOptions);
  },
};

export const adapters: readonly Adapter[] = [expressAdapter, fastifyAdapter, koaAdapter];

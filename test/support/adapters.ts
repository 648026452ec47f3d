/**
 * One factory per adapter: "start an app with these options and this route, which opens its
 * stream with the framework's `sse()`". The apps are the harness's (`buildApp`), on the
 * TypeScript sources: the contract suite runs every behaviour against each, and the
 * reliability suites reuse them.
 */
import express, { type Express } from 'express';
import compression from 'compression';
import cors from 'cors';
import Fastify, { type FastifyInstance } from 'fastify';
import fastifyCompress from '@fastify/compress';
import fastifyCors from '@fastify/cors';
import Koa from 'koa';
import koaCompress from 'koa-compress';
import koaCors from '@koa/cors';
import type { Broadcaster, Connection, OpenOptions, SseOptions, SseStats } from '@ssekit/core';
import * as ssekitExpress from '@ssekit/express';
import * as ssekitFastify from '@ssekit/fastify';
import * as ssekitKoa from '@ssekit/koa';
import { buildApp, type AdapterName, type AppModules } from '@ssekit/harness/apps';
import { track } from './cleanup';

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
  readonly port: number;
  readonly hub: Broadcaster;
  /** The adapter's own count of the streams open through it. */
  connectionCount(): number;
  /** The adapter's `stats()` snapshot. */
  stats(): SseStats;
  /** Every connection the route opened, in order. */
  readonly connections: Connection[];
  /** Warnings and errors the framework logged (Express: what reached its error handling). */
  readonly logs: string[];
  /** The adapter's documented shutdown path: ends every stream and closes the server. */
  shutdown(): Promise<void>;
  /** Test teardown: drops any client still connected, then shuts down (idempotent). */
  close(): Promise<void>;
}

export interface Adapter {
  readonly name: 'express' | 'fastify' | 'koa';
  /** Starts an app; the cleanup registry closes it. */
  start(options: ContractOptions, route: Route, start?: StartOptions): Promise<RunningApp>;
  /** The registration step alone (factory call or `register()`), for option validation. */
  register(options: unknown): Promise<void>;
}

/** Framework and ssekit modules, and the middleware a {@link StartOptions} asks for. */
const frameworks: Record<Adapter['name'], { modules: AppModules; prepare(start: StartOptions): (app: unknown) => unknown }> = {
  express: {
    modules: { ssekit: ssekitExpress, framework: express },
    prepare: (start) => (app) => {
      if (start.compress) (app as Express).use(compression());
      if (start.cors) (app as Express).use(cors());
    },
  },
  fastify: {
    modules: { ssekit: ssekitFastify, framework: Fastify },
    prepare: (start) => async (app) => {
      if (start.compress) await (app as FastifyInstance).register(fastifyCompress);
      if (start.cors) await (app as FastifyInstance).register(fastifyCors);
    },
  },
  koa: {
    modules: { ssekit: ssekitKoa, framework: Koa },
    prepare: (start) => (app) => {
      if (start.compress) (app as Koa).use(koaCompress());
      if (start.cors) (app as Koa).use(koaCors());
    },
  },
};

/** The modules `buildApp` needs for `adapter`, on the sources. */
export function modulesOf(adapter: Adapter['name']): AppModules {
  return frameworks[adapter].modules;
}

function adapter(name: Adapter['name']): Adapter {
  const { modules, prepare } = frameworks[name];
  return {
    name,
    async start(options, route, start = {}) {
      const logs: string[] = [];
      const connections: Connection[] = [];
      const app = await buildApp(name satisfies AdapterName, modules, {
        sse: options,
        logs,
        prepare: prepare(start),
        route: (open, url) =>
          route({
            sse: async (openOptions) => {
              const connection = await open(openOptions);
              connections.push(connection);
              return connection;
            },
            query: new URL(url, 'http://localhost').searchParams,
          }),
      });
      const port = await app.listen();
      let closing: Promise<void> | undefined;
      const close = (): Promise<void> =>
        (closing ??= (async () => {
          app.server.closeAllConnections();
          await app.close();
        })());
      track(close);
      return { url: `http://127.0.0.1:${port}/events`, port, hub: app.hub, connectionCount: app.connectionCount, stats: app.stats, connections, logs, shutdown: app.close, close };
    },
    async register(options) {
      const app = await buildApp(name, modules, { sse: options as ContractOptions });
      await app.close();
    },
  };
}

export const expressAdapter = adapter('express');
export const fastifyAdapter = adapter('fastify');
export const koaAdapter = adapter('koa');
export const adapters: readonly Adapter[] = [expressAdapter, fastifyAdapter, koaAdapter];

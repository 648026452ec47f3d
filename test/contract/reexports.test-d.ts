/**
 * Type test, compiled by `npm run typecheck` and never run: a strict user file that installed
 * only an adapter finds the quick start's names in it, the same in all three, and they are
 * core's own (a Connection from one is a Connection of the others).
 */
import type * as core from '@ssekit/core';
import * as express from '@ssekit/express';
import * as fastify from '@ssekit/fastify';
import * as koa from '@ssekit/koa';

for (const adapter of [express, fastify, koa]) {
  const replayer: core.MemoryReplayer = new adapter.MemoryReplayer(100);
  const hub: core.Hub = new adapter.Hub({ replayer });
  const errors: (abstract new (...args: never[]) => core.SseError)[] = [adapter.SseHttpError, adapter.SseFormatError, adapter.SseOptionsError, adapter.SseClosedError];
  void [hub, errors];
}

declare const connection: core.Connection;
const connections: [express.Connection, fastify.Connection, koa.Connection] = [connection, connection, connection];
const event: express.SseEvent & fastify.SseEvent & koa.SseEvent = { event: 'tick', data: { n: 1 } };
const options: express.OpenOptions & fastify.OpenOptions & koa.OpenOptions = { topics: ['news'] };
const hubs: [express.Broadcaster, fastify.Broadcaster, koa.Broadcaster] = [new express.Hub(), new fastify.Hub(), new koa.Hub()];
declare const server: core.ClosableServer;
const servers: [express.ClosableServer, fastify.ClosableServer, koa.ClosableServer] = [server, server, server];
void [connections, event, options, hubs, servers];

// @ts-expect-error the in-memory Hub's write path is on the integration entry's Registry only
void new express.Hub().deliverEncoded;

/**
 * `@ssekit/testkit`: what every ssekit test shares. Importing it installs the cleanup hooks
 * (see `cleanup.ts`): what a test opens through the kit is closed after it.
 *
 * Five parts load heavier dependencies and have their own entry points:
 * `@ssekit/testkit/adapters` (Express, Fastify and Koa apps), `@ssekit/testkit/redis-server` and
 * `@ssekit/testkit/redis-cluster` (ioredis), `@ssekit/testkit/metrics` and
 * `@ssekit/testkit/chromium` (the system Chromium, through playwright-core).
 */
export { track, closeAll } from './cleanup';
export { withTimeout, waitFor, deferred, Inbox, type Deferred } from './wait';
export { listen, startServer, startH2Server, type TestServer } from './servers';
export { connect, connectH2, fetchPlain, type SseClient, type SeenComment, type ConnectOptions, type PlainResponse, type EventSourceMessage } from './client';
export { rawRequest, rawWaitFor, connectStalled, type RawRequest, type StalledClient } from './raw';
export { interpretStream, parseWire, SpecParser, type SpecMessage, type ParsedWire, type ParseWireOptions } from './wire';
export { serveCore, topicsFromQuery, type CoreServer } from './core-server';
export { activeResources } from './resources';
export { ROOT, startProcess, runScript, assertBuilt, type Child, type RunningScript } from './processes';

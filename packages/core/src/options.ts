/**
 * Options of connections and of the shared handler: their types, their defaults (in one
 * place, so the TSDoc, the READMEs and the code agree) and their validation.
 */
import { isBroadcaster, type Broadcaster } from './broadcaster.js';
import type { SseEvent } from './event.js';
import type { AnyEvents, EventMap } from './event-map.js';
import { eventValidator, type EventValidator, type SseSchemas } from './validation.js';
import { SseOptionsError } from './errors.js';
import { assertKnownOptions, keysOf } from './option-keys.js';
import { formatEvent } from './format.js';
import { RESET_EVENT } from './handoff.js';
import type { SseHeaders } from './headers.js';
import type { NodeRequest } from './node.js';
import { isProvider, type Provider } from './provider.js';
import { isReplayer, type Replayer } from './replayer.js';
import { isMeter, type SseMeter } from './metrics.js';

/** Default period of heartbeat comments, in milliseconds. */
export const DEFAULT_HEARTBEAT_MS = 15_000;
/** Default slow-client limit, in bytes. */
export const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024;
/** Default `Retry-After` of a refused request, in seconds. */
export const DEFAULT_RETRY_AFTER_SECONDS = 5;
/** Default `retry:` hint written at shutdown when `retryMs` is not set, in milliseconds. */
export const DEFAULT_SHUTDOWN_RETRY_MS = 1000;
/** Default time a shutdown waits for each stream's last bytes, in milliseconds. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 2000;
/** Default window the shutdown `retry:` hints are spread over, in milliseconds. */
export const DEFAULT_SHUTDOWN_RETRY_JITTER_MS = 5000;
/** Default `retry:` hint of a stream ended by its lifetime or expiry when `retryMs` is not set, in milliseconds. */
export const DEFAULT_END_RETRY_MS = 1000;

/** Options of `createConnection`. */
export interface ConnectionOptions {
  /**
   * Period of heartbeat comments in milliseconds; `0` turns them off.
   * @defaultValue 15000
   */
  heartbeatMs?: number;
  /** Reconnection delay sent once at connect (`retry:`), in milliseconds. Not sent by default. */
  retryMs?: number;
  /**
   * A client whose unsent bytes would pass this limit is closed with reason `slow` instead of
   * being buffered without bound; it reconnects with `Last-Event-ID` and replay fills the gap.
   * @defaultValue 1048576 (1 MiB)
   */
  maxBufferedBytes?: number;
  /**
   * Coalescing window, in milliseconds: the events (broadcasts and sends) a connection gets
   * within a window leave in one write at its end, so a burst or a high event rate costs one
   * socket write per window instead of one per event. Each event waits at most this long.
   * `0` writes at once, joining only the events of one event-loop tick.
   * @defaultValue 0
   */
  coalesceMs?: number;
  /** Extra response headers (they cannot override the event-stream ones). */
  headers?: SseHeaders;
  /**
   * The id the client resumes from. Default: read from the request (`Last-Event-ID` header or
   * `lastEventId` query parameter). Passing the key, even as `undefined`, means the request is
   * not read.
   */
  lastEventId?: string | undefined;
  /**
   * Checks the data of every event sent on the connection (`send`, `pipe`) against its
   * event's schema; a rejected event rejects with `SseValidationError` and nothing is written.
   * Default: none (no check, and no cost per write).
   */
  schemas?: SseSchemas;
}

/**
 * What `authorize` returns: `true` to admit, `false` to refuse with 403, or `{ expiresAt }` to
 * admit until then (a `Date`, or milliseconds since the epoch as `Date.now()` gives): the stream
 * is ended at that time with a `retry:` hint, so the client reconnects with a fresh credential.
 * An `expiresAt` already past refuses with 403.
 */
export type AuthorizeResult = boolean | { expiresAt: number | Date };

/** Decides whether a request may subscribe to `topics`; `false` answers 403. See {@link AuthorizeResult}. */
export type Authorize<Req = NodeRequest> = (request: Req, topics: readonly string[]) => AuthorizeResult | Promise<AuthorizeResult>;

/**
 * Options shared by every adapter (`expressSse`, `fastifySse`, `koaSse`) and `createSseHandler`.
 * `Req` is the framework's request, `E` the event map (see `EventMap`).
 */
export interface SseOptions<Req = NodeRequest, E extends EventMap = AnyEvents> {
  /**
   * Where connections are registered and broadcasts go. Default: a new in-memory `Hub`
   * using `replayer` and `schemas`, so broadcasts carry the replayer's ids and are checked.
   * A hub passed in does its own storing and checking (give it its own `schemas`);
   * `replayer` is then only used to replay, and `schemas` only checks `send` and `pipe`.
   */
  hub?: Broadcaster<E>;
  /**
   * A Standard Schema (zod, valibot, arktype, ...) per event name, checking event data at run
   * time on the default hub's broadcasts and on every connection's `send` and `pipe`: invalid
   * data throws (or rejects with) `SseValidationError` before anything is stored or written.
   * Schemas must validate synchronously. Default: none (no check, and no cost per write).
   */
  schemas?: SseSchemas<E>;
  /** Retains events for `Last-Event-ID` recovery. Default: none (no replay). */
  replayer?: Replayer;
  /**
   * Period of heartbeat comments in milliseconds; `0` turns them off.
   * @defaultValue 15000
   */
  heartbeatMs?: number;
  /** Reconnection delay sent once at connect (`retry:` field), in milliseconds. Not sent by default. */
  retryMs?: number;
  /**
   * A client whose unsent bytes would pass this limit is closed as `slow`.
   * @defaultValue 1048576 (1 MiB)
   */
  maxBufferedBytes?: number;
  /**
   * Coalescing window, in milliseconds: the events (broadcasts and sends) a stream gets
   * within a window leave in one write at its end, so a burst or a high event rate costs one
   * socket write per window instead of one per event. Each event waits at most this long.
   * `0` writes at once, joining only the events of one event-loop tick.
   * @defaultValue 0
   */
  coalesceMs?: number;
  /** Creates connections. @defaultValue a `DefaultProvider` */
  provider?: Provider;
  /** Open streams allowed at once on this adapter; over it: 503 with `Retry-After`. Default: unlimited. */
  maxConnections?: number;
  /** Open streams allowed at once per client IP; over it: 429 with `Retry-After`. Default: unlimited. */
  maxConnectionsPerIp?: number;
  /**
   * New streams allowed per second on this adapter (bursts up to one second's worth), to pace
   * a reconnect storm. A connect past the rate is answered 200 with a `retry:` hint spread at
   * random over a window sized to the backlog, and the stream is ended at once: nothing is
   * registered or replayed, and `sse()` resolves with a connection that is already closed. A
   * native EventSource then comes back after the hint, which a 503 would stop for good.
   * @defaultValue unlimited
   * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#processing-model
   */
  maxConnectsPerSecond?: number;
  /**
   * Seconds announced in `Retry-After` when a limit refuses a request.
   * @defaultValue 5
   */
  retryAfterSeconds?: number;
  /**
   * Decides whether a request may open a stream on `topics`. `false` answers 403 and opens
   * nothing; throw an `SseHttpError` with status 401 to ask for credentials. Default: allow all.
   */
  authorize?: Authorize<Req>;
  /**
   * On a replay gap, send a reset event so the page reloads its state: `true` sends
   * `event: ssekit-reset` with data `gap`; an event object sends that event.
   * @defaultValue false
   */
  resetEvent?: boolean | SseEvent;
  /** Extra response headers on every stream. Default: none. */
  headers?: SseHeaders;
  /**
   * The `retry:` hint written to every stream when the server shuts down, so clients come back
   * once it is up again instead of all at once.
   * @defaultValue `retryMs`, else 1000
   */
  shutdownRetryMs?: number;
  /**
   * How long `close()` waits, per stream, for the bytes still queued for a client that is
   * behind (the `retry:` hint last) to be handed to the network, in milliseconds. A client
   * that stopped reading is dropped when this runs out, so it cannot hold a shutdown.
   * @defaultValue 2000
   */
  shutdownGraceMs?: number;
  /**
   * Spreads the shutdown `retry:` hints: each stream gets `shutdownRetryMs` plus a random whole
   * number of milliseconds from 0 to this value, so a deploy does not bring every client back
   * in the same second. `0` sends `shutdownRetryMs` to all.
   * @defaultValue 5000
   */
  shutdownRetryJitterMs?: number;
  /**
   * Ends each stream after this long (milliseconds) with a `retry:` hint (`retryMs`, else 1000),
   * so that long-lived streams rebalance across instances after a scale-up; the client resumes
   * with `Last-Event-ID`, so with a replayer nothing is lost. Each stream's lifetime is drawn at
   * random between `maxLifetimeMs - maxLifetimeJitterMs` and `maxLifetimeMs`, so streams opened
   * together do not all end together. Deadlines share one timer per handler and fire up to a
   * twentieth of `maxLifetimeMs` late (at most 250 ms). Default: streams live until closed.
   */
  maxLifetimeMs?: number;
  /**
   * How much shorter than `maxLifetimeMs` a stream's lifetime may be drawn, in milliseconds.
   * @defaultValue a tenth of `maxLifetimeMs`
   */
  maxLifetimeJitterMs?: number;
  /**
   * An OpenTelemetry `Meter` (from `@opentelemetry/api`, for example
   * `metrics.getMeter('events')`) to record the `ssekit.*` instruments on (see
   * {@link SseMeter}). Default: no metrics, and no cost.
   */
  metrics?: SseMeter;
}

/** Options of one stream, given to `res.sse()`, `reply.sse()` or `ctx.sse()`. */
export interface OpenOptions {
  /** Topics to subscribe to. Each must be 1 to 256 characters with no control characters. */
  topics?: readonly string[];
  /** Set `false` to ignore `Last-Event-ID`: no replay, and no waiting on the hub for that id. @defaultValue true */
  replay?: boolean;
}

/**
 * Validates an integer option that may be zero (milliseconds, bytes, seconds).
 * @returns the value, or `undefined` when it is `undefined`.
 * @throws {SseOptionsError} for anything else than a non-negative safe integer.
 */
export function nonNegativeInt(option: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new SseOptionsError(option, value, 'must be a non-negative integer');
  }
  return value;
}

/**
 * Validates an integer option that must be at least 1 (a limit, a size).
 * @returns the value, or `undefined` when it is `undefined`.
 * @throws {SseOptionsError} for anything else than a positive safe integer.
 */
export function positiveInt(option: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new SseOptionsError(option, value, 'must be a positive integer');
  }
  return value;
}

const CONNECTION_KEYS = keysOf<ConnectionOptions>({ heartbeatMs: true, retryMs: true, maxBufferedBytes: true, coalesceMs: true, headers: true, lastEventId: true, schemas: true });
const SSE_KEYS = keysOf<SseOptions>({
  hub: true,
  replayer: true,
  heartbeatMs: true,
  retryMs: true,
  maxBufferedBytes: true,
  coalesceMs: true,
  provider: true,
  maxConnections: true,
  maxConnectionsPerIp: true,
  maxConnectsPerSecond: true,
  retryAfterSeconds: true,
  authorize: true,
  resetEvent: true,
  headers: true,
  shutdownRetryMs: true,
  shutdownGraceMs: true,
  schemas: true,
  shutdownRetryJitterMs: true,
  maxLifetimeMs: true,
  maxLifetimeJitterMs: true,
  metrics: true,
});
const OPEN_KEYS = keysOf<OpenOptions>({ topics: true, replay: true });

/**
 * Validates the options of one stream; throws {@link SseOptionsError} for an unknown key (a
 * programming error: it fails before anything is written).
 */
export function checkOpenOptions(options: OpenOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new SseOptionsError('openOptions', options, 'must be an object');
  }
  assertKnownOptions(options, OPEN_KEYS);
}

/** Normalised connection options, validated once and shared by every connection. */
export interface ResolvedConnectionOptions {
  readonly heartbeatMs: number;
  readonly retryMs: number | undefined;
  readonly maxBufferedBytes: number;
  readonly coalesceMs: number;
  readonly headers: SseHeaders | undefined;
  /** The checks of the `schemas` option, built once; `undefined` without schemas. */
  readonly validate: EventValidator | undefined;
  /** The `schemas` option as given. */
  readonly schemas: SseSchemas | undefined;
}

/** Options objects made by {@link optionsForConnection}, with what they resolve to. */
const prepared = new WeakMap<ConnectionOptions, ResolvedConnectionOptions>();

/**
 * Validates the connection part of `options`; throws {@link SseOptionsError}. Options made by
 * {@link optionsForConnection} are not validated again.
 */
export function resolveConnectionOptions(options: ConnectionOptions = {}): ResolvedConnectionOptions {
  const known = prepared.get(options);
  if (known !== undefined) return known;
  if (typeof options !== 'object' || options === null) {
    throw new SseOptionsError('options', options, 'must be an object');
  }
  assertKnownOptions(options, CONNECTION_KEYS);
  return connectionFields(options);
}

/** Validates the connection fields of any options object (its other keys are not looked at). */
function connectionFields(options: ConnectionOptions): ResolvedConnectionOptions {
  const headers = options.headers;
  if (headers !== undefined && (typeof headers !== 'object' || headers === null)) {
    throw new SseOptionsError('headers', headers, 'must be an object of header names and values');
  }
  return {
    heartbeatMs: nonNegativeInt('heartbeatMs', options.heartbeatMs) ?? DEFAULT_HEARTBEAT_MS,
    retryMs: nonNegativeInt('retryMs', options.retryMs),
    maxBufferedBytes: positiveInt('maxBufferedBytes', options.maxBufferedBytes) ?? DEFAULT_MAX_BUFFERED_BYTES,
    coalesceMs: nonNegativeInt('coalesceMs', options.coalesceMs) ?? 0,
    headers,
    validate: eventValidator(options.schemas),
    schemas: options.schemas,
  };
}

/**
 * The options a provider receives for one stream: the handler's resolved ones plus the
 * request's resume id (the key is always there, so the request is not read a second time).
 * The object is remembered as validated; a copy that changes it is validated again.
 */
export function optionsForConnection(resolved: ResolvedConnectionOptions, lastEventId: string | undefined): ConnectionOptions {
  const options: ConnectionOptions = {
    heartbeatMs: resolved.heartbeatMs,
    maxBufferedBytes: resolved.maxBufferedBytes,
    lastEventId,
  };
  if (resolved.coalesceMs !== 0) options.coalesceMs = resolved.coalesceMs;
  if (resolved.retryMs !== undefined) options.retryMs = resolved.retryMs;
  if (resolved.headers !== undefined) options.headers = resolved.headers;
  if (resolved.schemas !== undefined) options.schemas = resolved.schemas;
  prepared.set(options, resolved);
  return options;
}

/** {@link SseOptions}, validated, with their defaults applied. */
export interface ResolvedSseOptions<Req> {
  readonly connection: ResolvedConnectionOptions;
  readonly hub: Broadcaster | undefined;
  readonly replayer: Replayer | undefined;
  readonly provider: Provider | undefined;
  readonly authorize: Authorize<Req> | undefined;
  readonly maxConnections: number | undefined;
  readonly maxConnectionsPerIp: number | undefined;
  readonly maxConnectsPerSecond: number | undefined;
  /** The `Retry-After` header value. */
  readonly retryAfter: string;
  readonly shutdownRetryMs: number;
  readonly shutdownGraceMs: number;
  readonly shutdownRetryJitterMs: number;
  /** The `retry:` hint of a stream ended by its lifetime or expiry. */
  readonly endRetryMs: number;
  readonly maxLifetimeMs: number | undefined;
  readonly maxLifetimeJitterMs: number;
  readonly metrics: SseMeter | undefined;
  readonly resetEvent: SseEvent | undefined;
}

/** Validates {@link SseOptions}; throws {@link SseOptionsError}. */
export function resolveSseOptions<Req>(options: SseOptions<Req> = {}): ResolvedSseOptions<Req> {
  if (typeof options !== 'object' || options === null) {
    throw new SseOptionsError('options', options, 'must be an object');
  }
  assertKnownOptions(options, SSE_KEYS);
  const connection = connectionFields(options);
  const { replayer, hub, provider, authorize } = options;
  if (replayer !== undefined && !isReplayer(replayer)) {
    throw new SseOptionsError('replayer', replayer, 'must implement store() and replay()');
  }
  if (hub !== undefined && !isBroadcaster(hub)) {
    throw new SseOptionsError('hub', hub, 'must implement the Broadcaster interface (register, subscribe, broadcast, ...)');
  }
  if (provider !== undefined && !isProvider(provider)) {
    throw new SseOptionsError('provider', provider, 'must implement createConnection()');
  }
  if (authorize !== undefined && typeof authorize !== 'function') {
    throw new SseOptionsError('authorize', authorize, 'must be a function');
  }
  if (options.metrics !== undefined && !isMeter(options.metrics)) {
    throw new SseOptionsError('metrics', options.metrics, 'must be an OpenTelemetry Meter (createCounter, createUpDownCounter, createHistogram)');
  }
  const maxLifetimeMs = positiveInt('maxLifetimeMs', options.maxLifetimeMs);
  const maxLifetimeJitterMs = nonNegativeInt('maxLifetimeJitterMs', options.maxLifetimeJitterMs);
  if (maxLifetimeJitterMs !== undefined && maxLifetimeMs === undefined) {
    throw new SseOptionsError('maxLifetimeJitterMs', maxLifetimeJitterMs, 'needs maxLifetimeMs');
  }
  if (maxLifetimeJitterMs !== undefined && maxLifetimeMs !== undefined && maxLifetimeJitterMs >= maxLifetimeMs) {
    throw new SseOptionsError('maxLifetimeJitterMs', maxLifetimeJitterMs, 'must be less than maxLifetimeMs');
  }
  return {
    connection,
    hub,
    replayer,
    provider,
    authorize,
    maxConnections: positiveInt('maxConnections', options.maxConnections),
    maxConnectionsPerIp: positiveInt('maxConnectionsPerIp', options.maxConnectionsPerIp),
    maxConnectsPerSecond: positiveRate('maxConnectsPerSecond', options.maxConnectsPerSecond),
    retryAfter: String(nonNegativeInt('retryAfterSeconds', options.retryAfterSeconds) ?? DEFAULT_RETRY_AFTER_SECONDS),
    shutdownRetryMs: nonNegativeInt('shutdownRetryMs', options.shutdownRetryMs) ?? connection.retryMs ?? DEFAULT_SHUTDOWN_RETRY_MS,
    shutdownGraceMs: nonNegativeInt('shutdownGraceMs', options.shutdownGraceMs) ?? DEFAULT_SHUTDOWN_GRACE_MS,
    shutdownRetryJitterMs: nonNegativeInt('shutdownRetryJitterMs', options.shutdownRetryJitterMs) ?? DEFAULT_SHUTDOWN_RETRY_JITTER_MS,
    endRetryMs: connection.retryMs ?? DEFAULT_END_RETRY_MS,
    maxLifetimeMs,
    maxLifetimeJitterMs: maxLifetimeJitterMs ?? (maxLifetimeMs === undefined ? 0 : Math.floor(maxLifetimeMs / 10)),
    metrics: options.metrics,
    resetEvent: resolveResetEvent(options.resetEvent),
  };
}

/** A rate: a positive finite number (fractions allowed), or `undefined`. */
function positiveRate(option: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new SseOptionsError(option, value, 'must be a positive number');
  }
  return value;
}

function resolveResetEvent(resetEvent: unknown): SseEvent | undefined {
  if (resetEvent === undefined || resetEvent === false) return undefined;
  if (resetEvent === true) return RESET_EVENT;
  if (typeof resetEvent !== 'object' || resetEvent === null) {
    throw new SseOptionsError('resetEvent', resetEvent, 'must be a boolean or an event object');
  }
  // Encode it once now: an event that cannot be written would otherwise fail at the first
  // gap, after the 200 headers, and end that stream.
  try {
    formatEvent(resetEvent as SseEvent);
  } catch (error) {
    throw new SseOptionsError('resetEvent', resetEvent, `cannot be encoded (${(error as Error).message})`);
  }
  return resetEvent as SseEvent;
}

/**
 * Options shared by {@link RedisBroadcaster} and {@link RedisReplayer}, and their validation.
 */
import { SseOptionsError } from '@ssekit/core';
import { assertKnownOptions, positiveInt as checkPositiveInt } from '@ssekit/core/integration';
import type { Redis, RedisOptions } from 'ioredis';
import type { StoreSettings } from './store.js';

/** Options of {@link RedisReplayer}, and the stream part of {@link RedisBroadcasterOptions}. */
export interface RedisStreamOptions {
  /**
   * An ioredis client, or options to create one. A client you pass stays yours: it is used for
   * `XADD`/`XRANGE` and never closed by `close()`. From options, a client is created and closed
   * by `close()`; it is created with `enableOfflineQueue: false`,
   * `autoResendUnfulfilledCommands: false` and `maxRetriesPerRequest: 0`, so a broadcast during
   * an outage fails at once instead of waiting in a queue.
   */
  redis: Redis | RedisOptions;
  /**
   * Groups the keys of one event stream: the stream key is `ssekit:{<namespace>}:events`. The
   * braces are a Redis Cluster hash tag, so the stream stays on one slot. Instances that share a
   * namespace share events.
   * @defaultValue `'default'`
   */
  namespace?: string;
  /**
   * The stream key, used as given (overrides `namespace`). In Redis Cluster, include a hash tag.
   * @defaultValue `ssekit:{<namespace>}:events`
   */
  stream?: string;
  /**
   * Events retained for `Last-Event-ID` replay (`XADD MAXLEN`). Redis trims approximately (it
   * keeps at least this many, a little more until a whole node can go) unless `exactTrim`.
   * @defaultValue 10000
   */
  maxLen?: number;
  /**
   * Trim to exactly `maxLen` (`MAXLEN` instead of `MAXLEN ~`). Costs more on every `XADD`.
   * @defaultValue false
   */
  exactTrim?: boolean;
  /**
   * Longest wait for Redis to answer one command (a broadcast's `XADD`, a replay's `XRANGE`), in
   * milliseconds. Also how long a broadcast made before the first connection waits for it.
   * @defaultValue 2000
   */
  timeoutMs?: number;
  /**
   * Entries fetched per `XRANGE` during replay (and per `XREAD` for a broadcaster).
   * @defaultValue 500
   */
  batchSize?: number;
}

/** Defaults, in one place so the README and the code agree. */
export const DEFAULTS = Object.freeze({
  namespace: 'default',
  maxLen: 10_000,
  exactTrim: false,
  timeoutMs: 2000,
  batchSize: 500,
  blockMs: 5000,
});

/** The keys of {@link RedisStreamOptions}. */
export const STREAM_OPTION_KEYS: readonly (keyof RedisStreamOptions)[] = ['redis', 'namespace', 'stream', 'maxLen', 'exactTrim', 'timeoutMs', 'batchSize'];

/** A positive-integer option, or its default. */
export function positiveInt(option: string, value: unknown, fallback: number): number {
  return checkPositiveInt(option, value) ?? fallback;
}

/**
 * Validates the stream options; throws {@link SseOptionsError}, also for a key that is neither a
 * stream option nor one of `extraKeys` (the class's own options).
 */
export function resolveStreamOptions(options: RedisStreamOptions, extraKeys: readonly string[]): StoreSettings {
  if (typeof options !== 'object' || options === null) throw new SseOptionsError('options', options, 'must be an object');
  assertKnownOptions(options, [...STREAM_OPTION_KEYS, ...extraKeys]);
  if (typeof options.redis !== 'object' || options.redis === null) {
    throw new SseOptionsError('redis', options.redis, 'must be an ioredis client or ioredis options');
  }
  const namespace = options.namespace ?? DEFAULTS.namespace;
  if (typeof namespace !== 'string' || namespace === '' || /[{}\s]/.test(namespace)) {
    throw new SseOptionsError('namespace', namespace, 'must be a non-empty string without braces or spaces');
  }
  const stream = options.stream ?? `ssekit:{${namespace}}:events`;
  if (typeof stream !== 'string' || stream === '') throw new SseOptionsError('stream', stream, 'must be a non-empty string');
  if (options.exactTrim !== undefined && typeof options.exactTrim !== 'boolean') {
    throw new SseOptionsError('exactTrim', options.exactTrim, 'must be a boolean');
  }
  return {
    key: stream,
    maxLen: positiveInt('maxLen', options.maxLen, DEFAULTS.maxLen),
    exactTrim: options.exactTrim ?? DEFAULTS.exactTrim,
    timeoutMs: positiveInt('timeoutMs', options.timeoutMs, DEFAULTS.timeoutMs),
    batchSize: positiveInt('batchSize', options.batchSize, DEFAULTS.batchSize),
  };
}


/**
 * Options shared by {@link RedisBroadcaster} and {@link RedisReplayer}, and their validation.
 */
import { SseOptionsError } from '@ssekit/core';
import { DEFAULT_MAX_CONCURRENT_REPLAYS, DEFAULT_MAX_REPLAY_EVENTS, assertKnownOptions, positiveInt as checkPositiveInt } from '@ssekit/core/integration';
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import type { HistorySettings } from './history.js';

/** Options of {@link RedisReplayer}, and the history part of {@link RedisBroadcasterOptions}. */
export interface RedisStreamOptions {
  /**
   * An ioredis client, an ioredis `Cluster`, or options to create a client. A client you pass
   * stays yours: it is used for commands and never closed by `close()`. From options, a client
   * is created and closed by `close()`; it is created with `enableOfflineQueue: false`,
   * `autoResendUnfulfilledCommands: false` and `maxRetriesPerRequest: 0`, so a broadcast during
   * an outage fails at once instead of waiting in a queue. Redis 7.0 or newer.
   */
  redis: Redis | Cluster | RedisOptions;
  /**
   * Groups the keys of one event history: `ssekit:{<namespace>}:...`. The braces are a Redis
   * Cluster hash tag, so a namespace lives on one slot (one primary). Instances that share a
   * namespace share events, and its ids are ordered across all of its topics.
   * @defaultValue `'default'`
   */
  namespace?: string;
  /**
   * Events retained per topic (and for untargeted broadcasts) for `Last-Event-ID` replay. A
   * stream is trimmed back to this once it holds 10% more (at most 100 more), unless
   * `exactTrim`.
   * @defaultValue 1000
   */
  maxLen?: number;
  /**
   * A topic's history (its stream) expires this long after its newest event, in milliseconds.
   * @defaultValue 86400000 (24 hours)
   */
  ttlMs?: number;
  /**
   * Trim every stream to exactly `maxLen` on every event instead of in batches. Costs more on
   * every broadcast once a stream is full.
   * @defaultValue false
   */
  exactTrim?: boolean;
  /**
   * Longest wait for Redis to answer one command (a broadcast, a replay read), in milliseconds.
   * Also how long a broadcast made before the instance is ready waits for it.
   * @defaultValue 2000
   */
  timeoutMs?: number;
  /**
   * Entries fetched per read (a replay or a catch-up reads in pages of this many).
   * @defaultValue 500
   */
  batchSize?: number;
  /**
   * A replay that would send more events than this reports a gap and sends nothing.
   * @defaultValue 10000
   */
  maxReplayEvents?: number;
  /**
   * Replay reads running at once on this instance; more wait in a queue (never refused), and
   * identical waiting ones (same id, same topics) share one read.
   * @defaultValue 64
   */
  maxConcurrentReplays?: number;
}

/** Defaults, in one place so the README and the code agree. */
export const DEFAULTS = Object.freeze({
  namespace: 'default',
  maxLen: 1000,
  ttlMs: 86_400_000,
  exactTrim: false,
  timeoutMs: 2000,
  batchSize: 500,
  maxReplayEvents: DEFAULT_MAX_REPLAY_EVENTS,
  maxConcurrentReplays: DEFAULT_MAX_CONCURRENT_REPLAYS,
  pingMs: 5000,
  lingerMs: 5000,
});

/** Options of 0.1 that the per-topic layout replaced, with what to do instead. */
const REMOVED: Readonly<Record<string, string>> = {
  stream: 'was removed in 0.2: keys derive from `namespace` (one stream per topic); see "Upgrading from 0.1" in the README',
  blockMs: 'was removed in 0.2: delivery uses pub/sub (see `pingMs`)',
};

/** The validated history options plus the namespace. */
export interface ResolvedStreamOptions extends HistorySettings {
  readonly namespace: string;
  readonly maxReplayEvents: number;
  readonly maxConcurrentReplays: number;
}

/** A positive-integer option, or its default. */
export function positiveInt(option: string, value: unknown, fallback: number): number {
  return checkPositiveInt(option, value) ?? fallback;
}

/** The keys of {@link RedisStreamOptions}. */
export const STREAM_OPTION_KEYS: readonly (keyof RedisStreamOptions)[] = [
  'redis', 'namespace', 'maxLen', 'ttlMs', 'exactTrim', 'timeoutMs', 'batchSize', 'maxReplayEvents', 'maxConcurrentReplays',
];

/**
 * Validates the history options; throws {@link SseOptionsError}, also for a key that is neither a
 * history option nor one of `extraKeys` (the class's own options), and with what to do instead
 * for the options 0.2 removed.
 */
export function resolveStreamOptions(options: RedisStreamOptions, extraKeys: readonly string[]): ResolvedStreamOptions {
  if (typeof options !== 'object' || options === null) throw new SseOptionsError('options', options, 'must be an object');
  for (const key of Object.keys(REMOVED)) {
    if (key in options) throw new SseOptionsError(key, (options as unknown as Record<string, unknown>)[key], REMOVED[key]!);
  }
  assertKnownOptions(options, [...STREAM_OPTION_KEYS, ...extraKeys]);
  if (typeof options.redis !== 'object' || options.redis === null) {
    throw new SseOptionsError('redis', options.redis, 'must be an ioredis client, an ioredis Cluster, or ioredis options');
  }
  const namespace = options.namespace ?? DEFAULTS.namespace;
  if (typeof namespace !== 'string' || namespace === '' || /[{}\s]/.test(namespace)) {
    throw new SseOptionsError('namespace', namespace, 'must be a non-empty string without braces or spaces');
  }
  if (options.exactTrim !== undefined && typeof options.exactTrim !== 'boolean') {
    throw new SseOptionsError('exactTrim', options.exactTrim, 'must be a boolean');
  }
  const maxLen = positiveInt('maxLen', options.maxLen, DEFAULTS.maxLen);
  const exactTrim = options.exactTrim ?? DEFAULTS.exactTrim;
  return {
    namespace,
    maxLen,
    slack: exactTrim ? 0 : Math.max(1, Math.min(100, Math.floor(maxLen / 10))),
    ttlMs: positiveInt('ttlMs', options.ttlMs, DEFAULTS.ttlMs),
    timeoutMs: positiveInt('timeoutMs', options.timeoutMs, DEFAULTS.timeoutMs),
    batchSize: positiveInt('batchSize', options.batchSize, DEFAULTS.batchSize),
    maxReplayEvents: positiveInt('maxReplayEvents', options.maxReplayEvents, DEFAULTS.maxReplayEvents),
    maxConcurrentReplays: positiveInt('maxConcurrentReplays', options.maxConcurrentReplays, DEFAULTS.maxConcurrentReplays),
  };
}

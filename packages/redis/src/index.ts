/**
 * `@ssekit/redis`: many app instances, one ordered and replayable event history, kept per
 * topic in Redis Streams.
 * @packageDocumentation
 */
export { RedisBroadcaster, type RedisBroadcasterOptions, type RedisBroadcasterStats } from './broadcaster.js';
export { RedisReplayer, type RedisReplayerOptions } from './replayer.js';
export { RedisUnavailableError } from './errors.js';
export type { RedisHealth, RedisReaderState } from './health.js';
export type { RedisStreamOptions } from './options.js';
export { STREAM_ID_PATTERN } from './stream-id.js';

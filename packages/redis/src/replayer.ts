/**
 * Redis-backed replay for apps that keep delivery in one process but want retention that
 * survives restarts, shared by a stream id space.
 */
import {
  SseOptionsError,
  type Replayer,
  type ReplayOptions,
  type ReplayResult,
  type ReplaySend,
  type SseEvent,
  type StoredEvent,
} from '@ssekit/core';
import type { RedisOptions } from 'ioredis';
import { Link, createClient, isRedisClient } from './link.js';
import { resolveStreamOptions, type RedisStreamOptions } from './options.js';
import { StreamStore } from './store.js';

/** Options of {@link RedisReplayer}. */
export interface RedisReplayerOptions extends RedisStreamOptions {
  /**
   * Receives errors of a connection created from options.
   * @defaultValue ignore them (failed commands still reject)
   */
  onError?: (error: Error) => void;
}

/**
 * A {@link Replayer} over a capped Redis Stream, without the cross-instance reader: `store`
 * appends (`XADD`) and resolves with the stream id, `replay` reads after a `Last-Event-ID`
 * (`XRANGE`).
 *
 * Its `store` is asynchronous, so it cannot be the replayer inside an in-memory `Hub`; store
 * first, then broadcast the stored event on your hub, and pass the replayer to the adapter for
 * replay:
 *
 * ```ts
 * const hub = new Hub();
 * const replayer = new RedisReplayer({ redis });
 * app.use(expressSse({ hub, replayer }));
 * hub.broadcast(await replayer.store({ data: 'hello' }));
 * ```
 *
 * A client that reconnects while an event is between `store` and `broadcast` can receive it
 * twice (same id). {@link RedisBroadcaster} has no such window.
 */
export class RedisReplayer implements Replayer {
  /** The stream key. */
  readonly stream: string;
  private readonly streamStore: StreamStore;
  private closing: Promise<void> | undefined;

  constructor(options: RedisReplayerOptions) {
    const settings = resolveStreamOptions(options, ['onError'] satisfies (keyof RedisReplayerOptions)[]);
    if (options.onError !== undefined && typeof options.onError !== 'function') {
      throw new SseOptionsError('onError', options.onError, 'must be a function');
    }
    const given = isRedisClient(options.redis) ? options.redis : undefined;
    const client = given ?? createClient(options.redis as RedisOptions, 'ssekit:replayer');
    this.stream = settings.key;
    this.streamStore = new StreamStore(new Link(client, given === undefined, options.onError), settings);
  }

  /**
   * Appends an event (for `topic`, or for everyone) and resolves with it and its stream id.
   * @throws {SseFormatError} for an event that cannot be encoded; nothing is sent.
   * @throws {RedisUnavailableError} when Redis does not take it; see its `stored` field.
   */
  store(event: SseEvent, topic?: string): Promise<StoredEvent> {
    return this.streamStore.add(event, topic);
  }

  /**
   * Sends, in order, the retained events after `afterId` that the connection would have
   * received. A malformed id, or one no longer (or never) in the stream, is a gap.
   * @throws {RedisUnavailableError} when Redis cannot be read (`withReplay` reports a gap).
   */
  replay(afterId: string, send: ReplaySend, options?: ReplayOptions): Promise<ReplayResult> {
    return this.streamStore.replay(afterId, '+', send, options);
  }

  /** Closes the Redis connection if it was created from options. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.streamStore.link.close(this.streamStore.settings.timeoutMs);
    return this.closing;
  }
}

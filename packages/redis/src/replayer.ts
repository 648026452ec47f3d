/**
 * Redis-backed replay for apps that keep delivery in one process but want retention that
 * survives restarts, in the same per-topic layout as {@link RedisBroadcaster}.
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
import { assertTopic, kAsyncStore } from '@ssekit/core/integration';
import type { RedisOptions } from 'ioredis';
import { encodeBody } from './entry.js';
import { History } from './history.js';
import { NamespaceKeys } from './keys.js';
import { Link, createClient, isRedisClient } from './link.js';
import { resolveStreamOptions, type RedisStreamOptions } from './options.js';
import { ReplayReader } from './replay-reader.js';

/** Options of {@link RedisReplayer}. */
export interface RedisReplayerOptions extends RedisStreamOptions {
  /**
   * Receives errors of a connection created from options.
   * @defaultValue ignore them (failed commands still reject)
   */
  onError?: (error: Error) => void;
}


/**
 * A {@link Replayer} over the per-topic Redis Streams, without a subscription: `store` runs the
 * publish script (without announcing) and resolves with the event's id, `replay` reads after a
 * `Last-Event-ID`.
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
  /** The namespace. */
  readonly namespace: string;
  /** Marks `store()` as asynchronous: an in-memory `Hub` refuses this replayer at setup. */
  readonly [kAsyncStore] = true;
  private readonly history: History;
  private readonly reader: ReplayReader;
  private closing: Promise<void> | undefined;

  constructor(options: RedisReplayerOptions) {
    const settings = resolveStreamOptions(options, ['onError'] satisfies (keyof RedisReplayerOptions)[]);
    if (options.onError !== undefined && typeof options.onError !== 'function') {
      throw new SseOptionsError('onError', options.onError, 'must be a function');
    }
    const given = isRedisClient(options.redis) ? options.redis : undefined;
    const client = given ?? createClient(options.redis as RedisOptions, 'ssekit:replayer');
    this.namespace = settings.namespace;
    this.history = new History(new Link(client, given === undefined, options.onError), new NamespaceKeys(settings.namespace), settings);
    this.reader = new ReplayReader(this.history, {
      maxReplayEvents: settings.maxReplayEvents,
      maxConcurrentReplays: settings.maxConcurrentReplays,
      end: () => '+',
      before: () => Promise.resolve(),
    });
  }

  /** The stream key of `topic`, or of untargeted broadcasts without one. */
  streamKey(topic?: string): string {
    return this.history.keys.stream(topic);
  }

  /**
   * Stores an event (for `topic`, or for everyone) and resolves with it and its id.
   * @throws {SseFormatError} for an event that cannot be encoded; nothing is sent.
   * @throws {RedisUnavailableError} when Redis does not take it; see its `stored` field.
   */
  async store(event: SseEvent, topic?: string): Promise<StoredEvent> {
    if (topic !== undefined) assertTopic(topic);
    const body = encodeBody(event);
    return { ...event, id: await this.history.publish(topic, body, false) };
  }

  /**
   * Sends, in order, the retained events after `afterId` that the connection would have
   * received. A malformed or unknown id, or an event after it that is gone, is a gap.
   * @throws {RedisUnavailableError} when Redis cannot be read (`withReplay` reports a gap).
   */
  replay(afterId: string, send: ReplaySend, options?: ReplayOptions): Promise<ReplayResult> {
    return this.reader.replay(afterId, send, options);
  }

  /** Closes the Redis connection if it was created from options. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.history.link.close(this.history.settings.timeoutMs);
    return this.closing;
  }
}

/**
 * Many app instances, one event stream: every broadcast is appended to a Redis Stream, and
 * every instance (the publisher included) delivers what it reads from that stream to its own
 * connections. All instances therefore deliver the same events in the same order with the same
 * ids, and a client can resume with `Last-Event-ID` on whichever instance it reconnects to.
 */
import {
  SseOptionsError,
  type Broadcaster,
  type Connection,
  type Replayer,
  type ReplayOptions,
  type ReplayResult,
  type ReplaySend,
  type SseEvent,
  type StoredEvent,
} from '@ssekit/core';
import { Registry, assertKnownOptions } from '@ssekit/core/integration';
import type { RedisOptions } from 'ioredis';
import { entryBytes } from './entry.js';
import { RedisUnavailableError } from './errors.js';
import { FAIL_FAST, Link, createClient, isRedisClient, withTimeout } from './link.js';
import { DEFAULTS, positiveInt, resolveStreamOptions, type RedisStreamOptions } from './options.js';
import { StreamReader } from './reader.js';
import { StreamStore } from './store.js';
import { compareStreamIds, normalizeStreamId } from './stream-id.js';

/** Options of {@link RedisBroadcaster}. */
export interface RedisBroadcasterOptions extends RedisStreamOptions {
  /**
   * How long each `XREAD` blocks waiting for new entries, in milliseconds. It does not delay
   * delivery (a blocked read returns as soon as an entry arrives); it bounds how long a dead
   * connection that never reported closing can go unnoticed (block time plus a margin).
   * @defaultValue 5000
   */
  blockMs?: number;
  /**
   * Receives connection and reader errors. The reader keeps retrying whatever it is given.
   * @defaultValue a `console.warn`, at most one every 10 seconds
   */
  onError?: (error: Error) => void;
}

const NOT_STARTED = 'the stream reader has not started (Redis unreachable since start-up)';

/**
 * A {@link Broadcaster} and {@link Replayer} over one Redis Stream: pass the same object as an
 * adapter's `hub` and `replayer`.
 *
 * - `broadcast`/`broadcastTo` validate and encode the event, append it (`XADD ... MAXLEN ~ N`,
 *   topic as a field) and resolve with it and its stream id. They do not write to local
 *   connections themselves: every instance, this one included, delivers from its one blocking
 *   `XREAD` loop, so all deliver in stream order. A broadcast that Redis does not take rejects
 *   with a {@link RedisUnavailableError}.
 * - `register`/`subscribe`/counts are local: connections live in an in-memory `Registry`.
 * - `replay` reads the stream (`XRANGE`) after a `Last-Event-ID`, on any instance.
 * - `store(event, topic)` is `broadcastTo(topic, event)`: a stored event is a delivered one.
 *
 * It uses two connections: the one you pass (or creates one from options) for commands, and a
 * `duplicate()` of it for the blocking read. `close()` closes the duplicate and, only if it
 * created it, the command connection.
 *
 * When Redis goes away, open streams stay open, broadcasts reject at once, and the reader
 * resumes from the last id it delivered when Redis is back, so nothing is skipped.
 */
export class RedisBroadcaster implements Broadcaster, Replayer {
  /** The stream key. */
  readonly stream: string;
  private readonly local = new Registry();
  private readonly streamStore: StreamStore;
  private readonly reader: StreamReader;
  private readonly timeoutMs: number;
  private closing: Promise<void> | undefined;

  constructor(options: RedisBroadcasterOptions) {
    const settings = resolveStreamOptions(options, ['blockMs', 'onError'] satisfies (keyof RedisBroadcasterOptions)[]);
    const blockMs = positiveInt('blockMs', options.blockMs, DEFAULTS.blockMs);
    if (options.onError !== undefined && typeof options.onError !== 'function') {
      throw new SseOptionsError('onError', options.onError, 'must be a function');
    }
    const onError = options.onError ?? throttledWarning();
    this.stream = settings.key;
    this.timeoutMs = settings.timeoutMs;

    const given = isRedisClient(options.redis) ? options.redis : undefined;
    const client = given ?? createClient(options.redis as RedisOptions, 'ssekit');
    const name = client.options.connectionName;
    const readerClient = client.duplicate({
      ...FAIL_FAST,
      lazyConnect: false,
      connectionName: name ? `${name}:reader` : 'ssekit:reader',
    });
    this.streamStore = new StreamStore(new Link(client, given === undefined, onError), settings);
    this.reader = new StreamReader({
      link: new Link(readerClient, true, onError),
      key: settings.key,
      blockMs,
      batchSize: settings.batchSize,
      onError,
      onLost: () => {
        const open = this.local.connectionCount();
        // They cannot be sent what was trimmed: end their streams so they come back with
        // Last-Event-ID, and replay reports the gap instead of the loss going unnoticed.
        this.local.close();
        onError(new Error(`the stream reader fell behind the stream's retention (maxLen) and events were trimmed before it read them; closed ${open} local stream(s) so clients resume and learn of the gap`));
      },
      deliver: (entry) => {
        this.local.deliver(entryBytes(entry), entry.id, entry.topic);
      },
    });
  }

  /**
   * Resolves once the reader knows where the stream ends and the command connection is up:
   * broadcasts made from then on reach this instance's connections.
   * @param options.timeoutMs - longest wait, in milliseconds. @defaultValue the `timeoutMs` option
   * @throws {RedisUnavailableError} (as a rejection) when Redis is not reachable within the
   *   wait, or the broadcaster is closed first.
   */
  async ready(options: { timeoutMs?: number } = {}): Promise<void> {
    assertKnownOptions(options, ['timeoutMs']);
    const timeoutMs = positiveInt('timeoutMs', options.timeoutMs, this.timeoutMs);
    const up = (async () => {
      await this.reader.started;
      if (!this.streamStore.link.ready && !this.closing) await this.streamStore.link.nextReady();
    })();
    await withTimeout(up, timeoutMs, () => new RedisUnavailableError(`Redis was not reachable within ${timeoutMs} ms (status: ${this.streamStore.link.client.status})`, false));
    if (this.closing) throw new RedisUnavailableError('RedisBroadcaster is closed', false);
  }

  /**
   * Registers a connection on this instance. A connection resuming after an id this instance's
   * reader has not delivered yet is registered once the reader has caught up to it (bounded by
   * `timeoutMs`), so the events it already has are not written to it again as live ones.
   */
  register(connection: Connection): void | Promise<void> {
    const after = normalizeStreamId(connection.lastEventId);
    const position = this.reader.lastId;
    if (after !== undefined && (position === undefined || compareStreamIds(after, position) > 0)) {
      // The client saw events this instance has not delivered yet (it came from a faster
      // instance). Register once the reader has caught up, so those events are not written to
      // it a second time as live ones.
      return this.catchUp(after).then(() => this.local.register(connection));
    }
    this.local.register(connection);
  }

  /** Removes a connection and its subscriptions on this instance. */
  unregister(connection: Connection): void {
    this.local.unregister(connection);
  }

  /** Subscribes a connection of this instance to `topic` (registering it if needed). */
  subscribe(connection: Connection, topic: string): void {
    this.local.subscribe(connection, topic);
  }

  /** Removes one subscription on this instance. */
  unsubscribe(connection: Connection, topic: string): void {
    this.local.unsubscribe(connection, topic);
  }

  /**
   * Appends an event for every connection of every instance; resolves with the event and its
   * stream id once Redis has stored it (delivery follows through each instance's reader).
   * @throws {SseFormatError} for an event that cannot be encoded; nothing is sent.
   * @throws {RedisUnavailableError} when Redis does not take it; see its `stored` field.
   */
  broadcast(event: SseEvent): Promise<StoredEvent> {
    return this.publish(undefined, event);
  }

  /** Like {@link RedisBroadcaster.broadcast}, for the subscribers of `topic` on every instance. */
  broadcastTo(topic: string, event: SseEvent): Promise<StoredEvent> {
    return this.publish(topic, event);
  }

  /** Same as `broadcastTo(topic, event)` (or `broadcast` without a topic). */
  store(event: SseEvent, topic?: string): Promise<StoredEvent> {
    return this.publish(topic, event);
  }

  /**
   * Sends the retained events after `afterId` that the connection would have received, up to
   * the last one this instance's reader has delivered: later ones reach the connection live,
   * so the two never overlap. A malformed id, an id no longer (or never) in the stream, or a
   * stream lost by Redis is a gap.
   * @throws {RedisUnavailableError} when Redis cannot be read (`withReplay` reports a gap).
   */
  async replay(afterId: string, send: ReplaySend, options?: ReplayOptions): Promise<ReplayResult> {
    if (normalizeStreamId(afterId) === undefined) return { count: 0, gap: true };
    await this.started('the replay');
    return this.streamStore.replay(afterId, this.reader.lastId!, send, options);
  }

  /** Connections registered on this instance. */
  connectionCount(): number {
    return this.local.connectionCount();
  }

  /** Connections subscribed to `topic` on this instance. */
  topicCount(topic: string): number {
    return this.local.topicCount(topic);
  }

  /**
   * Closes this instance's connections, stops the reader and releases the connections it
   * created (the reader's duplicate always, the command connection only if created from
   * options). Idempotent; later broadcasts reject.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.local.close();
      await this.reader.stop(this.timeoutMs);
      await this.streamStore.link.close(this.timeoutMs);
    })();
    return this.closing;
  }

  private async publish(topic: string | undefined, event: SseEvent): Promise<StoredEvent> {
    const fields = this.streamStore.prepare(event, topic);
    if (this.closing) throw new RedisUnavailableError('RedisBroadcaster is closed; the event was not sent', false);
    await this.started('the event');
    return this.streamStore.append(event, fields);
  }

  /** Waits (bounded) for the reader's start, so a first broadcast is not missed locally. */
  private async started(what: string): Promise<void> {
    await withTimeout(this.reader.started, this.timeoutMs, () => new RedisUnavailableError(`${NOT_STARTED}; ${what} was not sent`, false));
  }

  /** Waits until the reader has delivered `id`, if the stream has it; bounded. */
  private async catchUp(id: string): Promise<void> {
    try {
      await this.started('the replay');
      const position = this.reader.lastId;
      if (position !== undefined && compareStreamIds(id, position) <= 0) return;
      // A made-up or lost id would never be reached: only wait for one the stream has.
      const newest = await this.streamStore.newestId();
      if (newest === undefined || compareStreamIds(newest, id) < 0) return;
      await this.reader.reached(id, this.timeoutMs);
    } catch {
      // Redis unavailable: register anyway; replay will report the gap.
    }
  }
}

/** The default `onError`: one line on stderr, at most every 10 seconds. */
function throttledWarning(): (error: Error) => void {
  let last = -Infinity;
  return (error) => {
    const now = Date.now();
    if (now - last < 10_000) return;
    last = now;
    console.warn(`@ssekit/redis: ${error.message} (retrying)`);
  };
}

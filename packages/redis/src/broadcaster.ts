/**
 * Many app instances, one event history: every broadcast is stored in its topic's Redis Stream
 * and announced on that stream's shard channel in one atomic step, and each instance receives
 * only the channels its own connections subscribe to (plus untargeted broadcasts). All
 * instances deliver the same events in the same order with the same ids, and a client resumes
 * with `Last-Event-ID` on whichever instance it reconnects to.
 */
import {
  SseOptionsError,
  type AnyEvents,
  type Broadcaster,
  type Connection,
  type EventMap,
  type EventOf,
  type Replayer,
  type ReplayOptions,
  type ReplayResult,
  type ReplaySend,
  type SseEvent,
  type SseMeter,
  type SseSchemas,
  type StoredEvent,
} from '@ssekit/core';
import {
  Registry,
  assertKnownOptions,
  assertTopic,
  eventValidator,
  kAsyncStore,
  kObserveDeliveries,
  type DeliveryObserver,
  type EventValidator,
  type ObservableDeliveries,
  type ReplayGateStats,
} from '@ssekit/core/integration';
import { Redis, type RedisOptions } from 'ioredis';
import { encodeBody } from './entry.js';
import { RedisUnavailableError } from './errors.js';
import { healthOf, type RedisHealth } from './health.js';
import { History } from './history.js';
import { Interest } from './interest.js';
import { NamespaceKeys } from './keys.js';
import { FAIL_FAST, Link, createClient, isCluster, isRedisClient, noop, withTimeout, type RedisClient } from './link.js';
import { DEFAULTS, positiveInt, resolveStreamOptions, type RedisStreamOptions } from './options.js';
import { redisMetricsOption } from './redis-metrics.js';
import { ReplayReader } from './replay-reader.js';
import { normalizeStreamId } from './stream-id.js';
import { defaultDelay, type NodeAddress } from './subscriber.js';

/** Options of {@link RedisBroadcaster}; `schemas` is keyed by the names of its event map `E`. */
export interface RedisBroadcasterOptions<E extends EventMap = AnyEvents> extends RedisStreamOptions {
  /**
   * A Standard Schema (zod, valibot, arktype, ...) per event name of `E` (`message` for the
   * event without a name), checking each broadcast's data before it is published: an invalid
   * one rejects with `SseValidationError` and nothing reaches Redis. Names without a schema
   * are not checked. Schemas must validate synchronously.
   * @defaultValue none (no check, and no cost per broadcast)
   */
  schemas?: SseSchemas<E>;
  /**
   * How often the subscriber connection is checked with a `PING` when it has been quiet, in
   * milliseconds. A connection that does not answer within `timeoutMs` is dropped and opened
   * again, and delivery catches up from where it stopped.
   * @defaultValue 5000
   */
  pingMs?: number;
  /**
   * How long this instance stays subscribed to a topic after its last local subscriber left, in
   * milliseconds, so clients that reconnect at once do not make it unsubscribe and subscribe.
   * @defaultValue 5000
   */
  lingerMs?: number;
  /**
   * Receives connection and subscriber errors, and reports of local streams closed because
   * events they should have had are gone. The subscriber keeps retrying.
   * @defaultValue a `console.warn`, at most one every 10 seconds
   */
  onError?: (error: Error) => void;
  /**
   * An OpenTelemetry `Meter` (from `@opentelemetry/api`) to record the Redis instruments on,
   * beside the handler's `ssekit.*` ones: `ssekit.redis.reader.lag` (histogram, seconds: from
   * an event's storing in Redis to its delivery to this instance's connections),
   * `ssekit.redis.errors` (counter, attribute `operation`: `publish`, `replay`, `subscribe`,
   * `catchup`, `connection`) and `ssekit.redis.catchups` (counter, attribute `outcome`: `ok`,
   * `gap`). See the package README for what each counts.
   * @defaultValue none: no instrument is created and nothing is recorded
   */
  metrics?: SseMeter;
}


const NOT_STARTED = 'the subscription has not started (Redis unreachable since start-up)';

/** A snapshot of what a {@link RedisBroadcaster} has done, for health checks and figures. */
export interface RedisBroadcasterStats {
  /** Local connections. */
  readonly connections: number;
  /** Channels this instance is subscribed to (topics with local subscribers, plus untargeted). */
  readonly channels: number;
  /** Announcements received from Redis. */
  readonly received: number;
  /** Events published by this instance. */
  readonly published: number;
  /** Replay and catch-up read commands sent, and the entries they returned. */
  readonly reads: number;
  readonly entriesRead: number;
  /** Replay reads (shared ones counted once) and requests, and what waits now. */
  readonly replays: ReplayGateStats;
  /** Subscriber connections opened, and breaks seen. */
  readonly subscriberConnections: number;
  readonly subscriberBreaks: number;
  /** Catch-ups after a break, entries they delivered, local streams closed for lost events. */
  readonly catchUps: number;
  readonly caughtUp: number;
  readonly closedForLoss: number;
  /** Catch-ups that found the Redis history restarted. */
  readonly restarts: number;
}

/**
 * A {@link Broadcaster} and {@link Replayer} over per-topic Redis Streams: pass the same object
 * as an adapter's `hub` and `replayer`.
 *
 * - `broadcast`/`broadcastTo` validate and encode the event, then one Lua script takes the next
 *   id of the namespace, appends the event to its topic's stream (trimmed to `maxLen`, expiring
 *   `ttlMs` after its newest event) and announces it (`SPUBLISH`). They resolve with the event
 *   and its id; they do not write to local connections themselves: every instance, this one
 *   included, delivers what its subscription receives, so all deliver in id order. A broadcast
 *   that Redis does not take rejects with a {@link RedisUnavailableError}.
 * - `register`/`subscribe`/counts are local (an in-memory `Hub`); `subscribe` also makes the
 *   instance receive the topic, and resolves once that subscription is confirmed.
 * - `replay` reads the client's topics and untargeted broadcasts after a `Last-Event-ID` in one
 *   script, on any instance; identical concurrent replays share one read.
 * - `store(event, topic)` is `broadcastTo(topic, event)`: a stored event is a delivered one.
 *
 * It uses two connections: the one you pass (or creates one from options) for commands, and a
 * subscriber connection it opens itself (on a Cluster, to the namespace's primary). `close()`
 * closes the subscriber and, only if it created it, the command connection.
 *
 * When Redis goes away, open streams stay open and broadcasts reject at once. When the
 * subscription comes back, each topic is caught up from the last event delivered; local
 * streams whose missed events were trimmed or expired meanwhile (or all, when Redis lost its
 * data) are closed so their clients resume and learn of the gap.
 *
 * With an event map `E` (`new RedisBroadcaster<Events>(...)`), `broadcast` and `broadcastTo`
 * accept only its events, and an adapter given it as `hub` keeps the type
 * (`expressSse({ hub })` types `sse.hub` by `E`). The map is only ever given, never inferred
 * from `schemas`.
 */
export class RedisBroadcaster<E extends EventMap = AnyEvents> implements Broadcaster<E>, Replayer, ObservableDeliveries {
  /** The namespace. */
  readonly namespace: string;
  /** Marks `store()` as asynchronous: an in-memory `Hub` refuses this replayer at setup. */
  readonly [kAsyncStore] = true;
  private readonly keys: NamespaceKeys;
  private readonly local = new Registry();
  private readonly history: History;
  private readonly interest: Interest;
  private readonly reader: ReplayReader;
  private readonly timeoutMs: number;
  private readonly validate: EventValidator | undefined;
  private publishedCount = 0;
  private closing: Promise<void> | undefined;
  private observers: DeliveryObserver[] | undefined;

  constructor(options: RedisBroadcasterOptions<NoInfer<E>>) {
    const settings = resolveStreamOptions(options, ['pingMs', 'lingerMs', 'onError', 'schemas', 'metrics'] satisfies (keyof RedisBroadcasterOptions)[]);
    this.validate = eventValidator(options.schemas);
    const pingMs = positiveInt('pingMs', options.pingMs, DEFAULTS.pingMs);
    const lingerMs = positiveInt('lingerMs', options.lingerMs, DEFAULTS.lingerMs);
    if (options.onError !== undefined && typeof options.onError !== 'function') {
      throw new SseOptionsError('onError', options.onError, 'must be a function');
    }
    const onError = options.onError ?? throttledWarning();
    const metrics = redisMetricsOption(options.metrics);
    this.namespace = settings.namespace;
    this.keys = new NamespaceKeys(settings.namespace);
    this.timeoutMs = settings.timeoutMs;

    const given = isRedisClient(options.redis) ? options.redis : undefined;
    const client = given ?? createClient(options.redis as RedisOptions, 'ssekit');
    this.history = new History(new Link(client, given === undefined, onError), this.keys, settings, metrics?.failed);
    this.interest = new Interest({
      history: this.history,
      local: this.local,
      open: subscriberFactory(client),
      delay: reconnectDelay(client),
      pingMs,
      lingerMs,
      maxCatchUp: settings.maxReplayEvents,
      onError,
      metrics,
    });
    this.reader = new ReplayReader(this.history, {
      maxReplayEvents: settings.maxReplayEvents,
      maxConcurrentReplays: settings.maxConcurrentReplays,
      end: (topic) => this.interest.end(topic),
      before: () => this.started('the replay'),
    });
  }

  /** The stream key of `topic`, or of untargeted broadcasts without one. */
  streamKey(topic?: string): string {
    return this.keys.stream(topic);
  }

  /**
   * Resolves once this instance receives untargeted broadcasts and the command connection is
   * up: broadcasts made from then on reach its connections.
   * @param options.timeoutMs - longest wait, in milliseconds. @defaultValue the `timeoutMs` option
   * @throws {RedisUnavailableError} (as a rejection) when Redis is not reachable within the
   *   wait, or the broadcaster is closed first.
   */
  async ready(options: { timeoutMs?: number } = {}): Promise<void> {
    assertKnownOptions(options, ['timeoutMs']);
    const timeoutMs = positiveInt('timeoutMs', options.timeoutMs, this.timeoutMs);
    const link = this.history.link;
    const up = (async () => {
      await this.interest.started;
      if (!link.ready && !this.closing) await link.nextReady();
    })();
    await withTimeout(up, timeoutMs, () => new RedisUnavailableError(`Redis was not reachable within ${timeoutMs} ms (status: ${link.client.status})`, false));
    if (this.closing) throw new RedisUnavailableError('RedisBroadcaster is closed', false);
  }

  /**
   * Registers a connection on this instance. A connection resuming after an id this instance
   * may not have delivered yet (it came from an instance that received it first) is registered
   * once everything published before it has arrived here (bounded by `timeoutMs`), so those
   * events are not written to it a second time as live ones.
   */
  register(connection: Connection): void | Promise<void> {
    const after = normalizeStreamId(connection.lastEventId);
    const wait = after === undefined ? undefined : this.interest.caughtUpTo(after, this.timeoutMs);
    if (wait === undefined) {
      this.local.register(connection);
      return;
    }
    return wait.then(() => this.local.register(connection));
  }

  /** Removes a connection and its subscriptions on this instance. */
  unregister(connection: Connection): void {
    this.local.unregister(connection);
  }

  /**
   * Subscribes a connection of this instance to `topic`. When this instance did not receive
   * the topic yet, resolves once its subscription to it is confirmed (bounded by `timeoutMs`):
   * from then on every event of the topic reaches the connection, live or by replay.
   */
  subscribe(connection: Connection, topic: string): void | Promise<void> {
    this.local.subscribe(connection, topic);
    const wait = this.interest.watch(topic);
    if (wait === undefined) return;
    return withTimeout(wait, this.timeoutMs, () => new Error('subscribe timed out')).catch(noop);
  }

  /** Removes one subscription on this instance. */
  unsubscribe(connection: Connection, topic: string): void {
    this.local.unsubscribe(connection, topic);
  }

  /**
   * Stores an event for every connection of every instance; resolves with the event and its id
   * once Redis has stored it (delivery follows through each instance's subscription).
   * @throws {SseFormatError} for an event that cannot be encoded; nothing is sent.
   * @throws {SseValidationError} for data its schema (the `schemas` option) rejects; nothing is sent.
   * @throws {RedisUnavailableError} when Redis does not take it; see its `stored` field.
   */
  broadcast(event: EventOf<E>): Promise<StoredEvent> {
    return this.publish(undefined, event);
  }

  /** Like {@link RedisBroadcaster.broadcast}, for the subscribers of `topic` on every instance. */
  broadcastTo(topic: string, event: EventOf<E>): Promise<StoredEvent> {
    return this.publish(topic, event);
  }

  /** Same as `broadcastTo(topic, event)` (or `broadcast` without a topic). */
  store(event: SseEvent, topic?: string): Promise<StoredEvent> {
    return this.publish(topic, event);
  }

  /**
   * Sends the retained events after `afterId` that the connection would have received (its
   * topics plus untargeted broadcasts; every topic with `topics` omitted), each topic up to the
   * last event this instance has delivered of it: later ones reach the connection live, so the
   * two never overlap. A malformed or unknown id, an event after it that was trimmed or expired,
   * a Redis that lost its data, or more than `maxReplayEvents` events is a gap.
   * @throws {RedisUnavailableError} when Redis cannot be read (`withReplay` reports a gap).
   */
  replay(afterId: string, send: ReplaySend, options?: ReplayOptions): Promise<ReplayResult> {
    return this.reader.replay(afterId, send, options);
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
   * Whether this instance can take and deliver broadcasts now, for a readiness endpoint: read
   * from the connections' own state, with no round trip to Redis (ask as often as you like).
   * `ready` turns false as soon as a Redis that stops or restarts closes the connections, and
   * true again once both are back and the reader has caught up; see {@link RedisHealth}.
   */
  health(): RedisHealth {
    return healthOf(this.history.link, this.interest.readerState, this.closing !== undefined);
  }

  /**
   * Adds a delivery observer: the `metrics` of a handler using this broadcaster as its hub count
   * `ssekit.events.broadcast` and `ssekit.events.delivered` from it. Each event this instance
   * delivers to its own connections (from its subscription or a catch-up) is one broadcast.
   */
  [kObserveDeliveries](observer: DeliveryObserver): void {
    if (this.observers?.includes(observer)) return;
    const observers = (this.observers = [...(this.observers ?? []), observer]);
    this.interest.onDelivered = (written) => {
      for (const observe of observers) observe(written);
    };
  }

  /** What this instance has done so far; see {@link RedisBroadcasterStats}. */
  stats(): RedisBroadcasterStats {
    const { counters } = this.interest;
    const sub = this.interest.subscriberCounters;
    return {
      connections: this.local.connectionCount(),
      channels: this.interest.channelCount,
      received: counters.received,
      published: this.publishedCount,
      reads: this.history.counters.reads,
      entriesRead: this.history.counters.entriesRead,
      replays: this.reader.gate.stats(),
      subscriberConnections: sub.connections,
      subscriberBreaks: sub.breaks,
      catchUps: counters.catchUps,
      caughtUp: counters.caughtUp,
      closedForLoss: counters.closedForLoss,
      restarts: counters.restarts,
    };
  }

  /**
   * Closes this instance's connections, stops the subscriber and releases the connections it
   * created (the subscriber's always, the command connection only if created from options).
   * Idempotent; later broadcasts reject.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.local.close();
      await this.interest.stop();
      await this.history.link.close(this.timeoutMs);
    })();
    return this.closing;
  }

  private async publish(topic: string | undefined, event: SseEvent): Promise<StoredEvent> {
    if (topic !== undefined) assertTopic(topic);
    this.validate?.(event);
    const body = encodeBody(event);
    if (this.closing) throw new RedisUnavailableError('RedisBroadcaster is closed; the event was not sent', false);
    let id: string;
    try {
      await this.started('the event');
      id = await this.history.publish(topic, body, true);
    } catch (error) {
      // A broadcast Redis did not take, also when it was never reached.
      this.history.failed('publish');
      throw error;
    }
    this.publishedCount++;
    this.interest.published(id);
    return { ...event, id };
  }

  /** Waits (bounded) for the subscription's start, so a first broadcast is not missed locally. */
  private async started(what: string): Promise<void> {
    await withTimeout(this.interest.started, this.timeoutMs, () => new RedisUnavailableError(`${NOT_STARTED}; ${what} was not sent`, false));
  }
}

/**
 * How the subscriber opens its connections: a duplicate of a single-server client, or, on a
 * Cluster, a connection to the node a `MOVED` pointed to or to the next known primary. The
 * subscriber reconnects by itself, so ioredis must not (nor resubscribe behind its back).
 */
function subscriberFactory(client: RedisClient): (target: NodeAddress | undefined) => Redis {
  const name = isCluster(client) ? client.options.redisOptions?.connectionName : client.options.connectionName;
  const settings: RedisOptions = {
    ...FAIL_FAST,
    lazyConnect: true,
    autoResubscribe: false,
    retryStrategy: () => null,
    // RESP3 takes commands on a subscribed connection: the barrier reads the clock on it.
    protocol: 3,
    connectionName: name ? `${name}:sub` : 'ssekit:sub',
  };
  if (!isCluster(client)) return () => client.duplicate(settings);
  let next = 0;
  return (target) => {
    let address = target;
    if (address === undefined) {
      const masters = client.nodes('master');
      if (masters.length === 0) throw new Error('no Redis Cluster primary is known yet');
      const node = masters[next++ % masters.length]!;
      address = { host: node.options.host ?? '127.0.0.1', port: node.options.port ?? 6379 };
    }
    return new Redis({ ...client.options.redisOptions, ...settings, host: address.host, port: address.port });
  };
}

/**
 * How long the subscriber waits before reconnecting: the client's own `retryStrategy` when it
 * has one (so an app paces every connection the same way), else at once and then backing off.
 */
function reconnectDelay(client: RedisClient): (attempt: number) => number {
  const strategy = isCluster(client) ? undefined : client.options.retryStrategy;
  if (typeof strategy !== 'function') return defaultDelay;
  return (attempt) => {
    const delay = strategy(attempt);
    return typeof delay === 'number' && delay >= 0 ? delay : defaultDelay(attempt);
  };
}

/** The default `onError`: one line on stderr, at most every 10 seconds. */
function throttledWarning(): (error: Error) => void {
  let last = -Infinity;
  return (error) => {
    const now = Date.now();
    if (now - last < 10_000) return;
    last = now;
    console.warn(`@ssekit/redis: ${error.message}`);
  };
}

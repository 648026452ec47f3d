/**
 * The broadcast contract: the in-memory {@link Hub} implements it, and so can a backend that
 * spans many processes (Redis). Methods may return promises so remote backends fit.
 */
import type { Connection } from './connection.js';
import type { MaybePromise, SseEvent } from './event.js';
import { SseOptionsError } from './errors.js';
import { assertKnownOptions, keysOf } from './option-keys.js';

/** Options of one {@link Broadcaster.broadcast} or {@link Broadcaster.broadcastTo}. */
export interface BroadcastOptions {
  /**
   * Marks a last-value event (a price, a progress): a connection that is behind (or holds events
   * in a coalescing window) replaces its unsent older conflatable event of the same key with
   * this one, instead of queueing both, so a slow reader gets the newest value and stays
   * connected rather than being closed as `slow`. `true`: the key is the topic (one key for all
   * untargeted broadcasts); a string: a key within the topic (such as a ticker symbol).
   *
   * The replaced event is skipped by design for that client: it is stored and replayed like any
   * other, but a client that already has the newer id never asks for the older one. A backend
   * that does not support conflation delivers the event normally.
   * @defaultValue false
   */
  conflate?: boolean | string;
}

const BROADCAST_KEYS = keysOf<BroadcastOptions>({ conflate: true });

/**
 * The per-connection conflation key of a broadcast with `options`, or `undefined` when it is
 * not conflatable.
 * @throws {SseOptionsError} for options that are not a {@link BroadcastOptions}.
 */
export function conflationKey(topic: string | undefined, options: BroadcastOptions | undefined): string | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) throw new SseOptionsError('options', options, 'must be an object');
  assertKnownOptions(options, BROADCAST_KEYS);
  const conflate = options.conflate;
  if (conflate === undefined || conflate === false) return undefined;
  if (conflate !== true && typeof conflate !== 'string') {
    throw new SseOptionsError('conflate', conflate, 'must be a boolean or a string key');
  }
  // A topic never holds a control character, so the line feed cannot make two keys collide.
  return `${topic ?? ''}\n${conflate === true ? '' : conflate}`;
}
import type { AnyEvents, EventMap, EventOf } from './event-map.js';

/**
 * Delivers events to registered connections, to all of them or to a topic's subscribers. With
 * an event map `E`, `broadcast` and `broadcastTo` accept only the events of `E`.
 */
export interface Broadcaster<E extends EventMap = AnyEvents> {
  /** Adds a connection. It is removed automatically when it closes. */
  register(connection: Connection): MaybePromise<void>;
  /** Removes a connection and all its subscriptions. */
  unregister(connection: Connection): MaybePromise<void>;
  /** Subscribes a connection to a topic (registering it if needed). */
  subscribe(connection: Connection, topic: string): MaybePromise<void>;
  /** Removes one subscription. */
  unsubscribe(connection: Connection, topic: string): MaybePromise<void>;
  /**
   * Sends an event to every registered connection. Resolves to the event as delivered (with
   * the id a replayer assigned), or `null` when a hook dropped it. A backend that cannot accept
   * the event rejects, and then nobody received it.
   */
  broadcast(event: EventOf<E>, options?: BroadcastOptions): MaybePromise<SseEvent | null>;
  /** Sends an event to the subscribers of `topic`; otherwise like {@link Broadcaster.broadcast}. */
  broadcastTo(topic: string, event: EventOf<E>, options?: BroadcastOptions): MaybePromise<SseEvent | null>;
  /** Number of registered connections (on this process, for distributed backends). */
  connectionCount(): MaybePromise<number>;
  /** Number of connections subscribed to `topic` (on this process, for distributed backends). */
  topicCount(topic: string): MaybePromise<number>;
  /** Optional: closes every connection and releases the backend's resources. */
  close?(): MaybePromise<void>;
}

const METHODS = ['register', 'unregister', 'subscribe', 'unsubscribe', 'broadcast', 'broadcastTo', 'connectionCount', 'topicCount'] as const;

/** Duck-type check for {@link Broadcaster}. */
export function isBroadcaster(value: unknown): value is Broadcaster {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return METHODS.every((name) => typeof record[name] === 'function');
}

/**
 * The broadcast contract: the in-memory {@link Hub} implements it, and so can a backend that
 * spans many processes (Redis). Methods may return promises so remote backends fit.
 */
import type { Connection } from './connection.js';
import type { MaybePromise, SseEvent } from './event.js';

/** Delivers events to registered connections, to all of them or to a topic's subscribers. */
export interface Broadcaster {
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
  broadcast(event: SseEvent): MaybePromise<SseEvent | null>;
  /** Sends an event to the subscribers of `topic`; otherwise like {@link Broadcaster.broadcast}. */
  broadcastTo(topic: string, event: SseEvent): MaybePromise<SseEvent | null>;
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

/**
 * The in-memory broadcaster.
 */
import { conflationKey, type BroadcastOptions, type Broadcaster } from './broadcaster.js';
import type { CloseOptions, Connection } from './connection.js';
import { isPromiseLike, type SseEvent } from './event.js';
import type { AnyEvents, EventMap, EventOf } from './event-map.js';
import { SseOptionsError } from './errors.js';
import { formatEventBody, formatIdLine, withIdLine } from './format.js';
import { assertKnownOptions, keysOf } from './option-keys.js';
import { Registry } from './registry.js';
import { isReplayer, kAsyncStore, type SyncReplayer } from './replayer.js';
import { kObserveDeliveries, type DeliveryObserver, type ObservableDeliveries } from './metrics.js';
import { assertTopic } from './topic.js';
import { eventValidator, type EventValidator, type SseSchemas } from './validation.js';

/**
 * A hook that sees every event before delivery: return a replacement event, `null` to drop it,
 * or nothing to deliver it unchanged.
 */
export type BroadcastHook = (event: SseEvent) => SseEvent | null | undefined | void;
/** Like {@link BroadcastHook}, for events sent to a topic. */
export type BroadcastToHook = (topic: string, event: SseEvent) => SseEvent | null | undefined | void;

/** Options of {@link Hub}; `E` is its event map. */
export interface HubOptions<E extends EventMap = AnyEvents> {
  /**
   * Stores every broadcast before delivery, so clients receive the replayer's id and can resume
   * with `Last-Event-ID`. Must store synchronously (as {@link MemoryReplayer} does); one marked
   * as asynchronous (`RedisReplayer`, `RedisBroadcaster`) is refused here with an
   * `SseOptionsError`. Default: none (no ids, no replay).
   */
  replayer?: SyncReplayer;
  /** See {@link Hub.onBroadcast}. */
  onBroadcast?: BroadcastHook;
  /** See {@link Hub.onBroadcastTo}. */
  onBroadcastTo?: BroadcastToHook;
  /**
   * A Standard Schema (zod, valibot, ...) per event name: each event's data is checked after
   * the hooks and before it is encoded, stored or written, and `broadcast` throws
   * `SseValidationError` when its schema rejects it (nothing stored, nobody received it).
   * Schemas must validate synchronously; one that returns a promise makes the broadcast throw
   * an `SseOptionsError`. Default: none (no check, and no cost per broadcast).
   */
  schemas?: SseSchemas<E>;
}

const HUB_KEYS = keysOf<HubOptions>({ replayer: true, onBroadcast: true, onBroadcastTo: true, schemas: true });

/**
 * In-memory {@link Broadcaster}: connections, topics and fan-out within one process.
 *
 * `broadcast` encodes an event once and writes the same bytes to every connection without
 * waiting for any of them; a connection whose unsent bytes would pass its `maxBufferedBytes`
 * is closed as `slow` on the spot and removed. Closed connections leave every map at once.
 * All methods are synchronous.
 *
 * With an event map `E` (`new Hub<Events>()`), `broadcast` and `broadcastTo` accept only
 * `{ event: K, data: E[K] }` for a name `K` of `E`; without it, any event.
 */
export class Hub<E extends EventMap = AnyEvents> implements Broadcaster<E>, ObservableDeliveries {
  /**
   * Sees (and may replace or drop) each event given to {@link Hub.broadcast} before delivery.
   */
  onBroadcast: BroadcastHook | undefined;
  /** Sees (and may replace or drop) each event given to {@link Hub.broadcastTo}. */
  onBroadcastTo: BroadcastToHook | undefined;
  /** The replayer every broadcast is stored in, if any. */
  readonly replayer: SyncReplayer | undefined;
  private readonly registry = new Registry();
  private readonly validate: EventValidator | undefined;
  /** Told how many connections each broadcast wrote (metrics); none unless a handler asks. */
  private observers: DeliveryObserver[] | undefined;

  /** @throws {SseOptionsError} for an invalid option or an unknown key. */
  constructor(options: HubOptions<NoInfer<E>> = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new SseOptionsError('options', options, 'must be an object');
    }
    assertKnownOptions(options, HUB_KEYS);
    if (options.replayer !== undefined && !isReplayer(options.replayer)) {
      throw new SseOptionsError('replayer', options.replayer, 'must implement store() and replay()');
    }
    if (options.replayer !== undefined && (options.replayer as { [kAsyncStore]?: unknown })[kAsyncStore] === true) {
      throw new SseOptionsError(
        'replayer',
        options.replayer,
        'stores asynchronously, and the in-memory Hub needs a replayer whose store() is synchronous (MemoryReplayer); with Redis, use the RedisBroadcaster as hub and replayer, or give the replayer to the adapter and broadcast what it stored',
      );
    }
    this.replayer = options.replayer;
    this.onBroadcast = options.onBroadcast;
    this.onBroadcastTo = options.onBroadcastTo;
    this.validate = eventValidator(options.schemas);
  }

  register(connection: Connection): void {
    this.registry.register(connection);
  }

  unregister(connection: Connection): void {
    this.registry.unregister(connection);
  }

  subscribe(connection: Connection, topic: string): void {
    this.registry.subscribe(connection, topic);
  }

  unsubscribe(connection: Connection, topic: string): void {
    this.registry.unsubscribe(connection, topic);
  }

  /**
   * @throws {SseFormatError} for an event that cannot be encoded, {@link SseValidationError}
   *   for data its schema rejects; nothing was stored or delivered.
   */
  broadcast(event: EventOf<E>, options?: BroadcastOptions): SseEvent | null {
    const key = conflationKey(undefined, options);
    const hooked = this.onBroadcast ? this.onBroadcast(event) : undefined;
    if (hooked === null) return null;
    return this.deliver(hooked ?? event, undefined, key);
  }

  /** Like {@link Hub.broadcast}, to the subscribers of `topic`. */
  broadcastTo(topic: string, event: EventOf<E>, options?: BroadcastOptions): SseEvent | null {
    assertTopic(topic);
    const key = conflationKey(topic, options);
    const hooked = this.onBroadcastTo ? this.onBroadcastTo(topic, event) : undefined;
    if (hooked === null) return null;
    return this.deliver(hooked ?? event, topic, key);
  }

  private deliver(event: SseEvent, topic: string | undefined, key: string | undefined): SseEvent {
    // Encode (and so validate) before storing: an event that cannot be encoded must never
    // enter the replayer. The id goes in front of the body once it is known.
    if (this.validate !== undefined) this.validate(event);
    const body = formatEventBody(event);
    // With a replayer, the id given is replaced by the stored one; it must still be valid.
    if (this.replayer && event.id !== undefined) formatIdLine(event.id);
    let delivered = event;
    if (this.replayer) {
      delivered = this.replayer.store(event, topic);
      if (isPromiseLike(delivered)) {
        throw new SseOptionsError('replayer', this.replayer, 'the in-memory Hub needs a replayer whose store() is synchronous');
      }
    }
    const written = this.registry.deliver(withIdLine(delivered.id, body), delivered.id, topic, key);
    const observers = this.observers;
    if (observers !== undefined) for (const observe of observers) observe(written);
    return delivered;
  }

  /** Adds a delivery observer (for the `metrics` of the handlers using this hub). */
  [kObserveDeliveries](observer: DeliveryObserver): void {
    if (this.observers?.includes(observer)) return;
    this.observers = [...(this.observers ?? []), observer];
  }

  connectionCount(): number {
    return this.registry.connectionCount();
  }

  topicCount(topic: string): number {
    return this.registry.topicCount(topic);
  }

  /** Names of the topics that have at least one subscriber. */
  topicNames(): string[] {
    return this.registry.topicNames();
  }

  /** Topics a connection is subscribed to. */
  topicsOf(connection: Connection): ReadonlySet<string> {
    return this.registry.topicsOf(connection);
  }

  /** Closes every registered connection (for example on server shutdown). */
  close(options?: CloseOptions): void {
    this.registry.close(options);
  }
}

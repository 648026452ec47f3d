/**
 * The in-memory broadcaster.
 */
import type { Broadcaster } from './broadcaster.js';
import type { CloseListener, CloseOptions, Connection } from './connection.js';
import { isPromiseLike, type SseEvent } from './event.js';
import { SseOptionsError } from './errors.js';
import { formatEventText, formatIdLine } from './format.js';
import { isReplayer, type SyncReplayer } from './replayer.js';
import { assertTopic } from './topic.js';

/**
 * A hook that sees every event before delivery: return a replacement event, `null` to drop it,
 * or nothing to deliver it unchanged.
 */
export type BroadcastHook = (event: SseEvent) => SseEvent | null | undefined | void;
/** Like {@link BroadcastHook}, for events sent to a topic. */
export type BroadcastToHook = (topic: string, event: SseEvent) => SseEvent | null | undefined | void;

/** Options of {@link Hub}. */
export interface HubOptions {
  /**
   * Stores every broadcast before delivery, so clients receive the replayer's id and can resume
   * with `Last-Event-ID`. Must store synchronously (as {@link MemoryReplayer} does).
   */
  replayer?: SyncReplayer;
  /** See {@link Hub.onBroadcast}. */
  onBroadcast?: BroadcastHook;
  /** See {@link Hub.onBroadcastTo}. */
  onBroadcastTo?: BroadcastToHook;
}

const EMPTY: ReadonlySet<Connection> = new Set();


/**
 * In-memory {@link Broadcaster}: connections, topics and fan-out within one process.
 *
 * `broadcast` encodes an event once and writes the same bytes to every connection without
 * waiting for any of them; a connection whose unsent bytes would pass its `maxBufferedBytes`
 * is closed as `slow` on the spot and removed. Closed connections leave every map at once.
 * All methods are synchronous.
 */
export class Hub implements Broadcaster {
  /**
   * Sees (and may replace or drop) each event given to {@link Hub.broadcast} before delivery.
   */
  onBroadcast: BroadcastHook | undefined;
  /** Sees (and may replace or drop) each event given to {@link Hub.broadcastTo}. */
  onBroadcastTo: BroadcastToHook | undefined;
  /** The replayer every broadcast is stored in, if any. */
  readonly replayer: SyncReplayer | undefined;

  /** Each registered connection and the topics it is subscribed to. */
  private readonly connections = new Map<Connection, Set<string> | undefined>();
  private readonly topics = new Map<string, Set<Connection>>();

  constructor(options: HubOptions = {}) {
    if (options.replayer !== undefined && !isReplayer(options.replayer)) {
      throw new SseOptionsError('replayer', options.replayer, 'must implement store() and replay()');
    }
    this.replayer = options.replayer;
    this.onBroadcast = options.onBroadcast;
    this.onBroadcastTo = options.onBroadcastTo;
  }

  private readonly handleClose: CloseListener = (_reason, connection) => {
    this.unregister(connection);
  };

  register(connection: Connection): void {
    if (connection.closed || this.connections.has(connection)) return;
    this.connections.set(connection, undefined);
    connection.onClose(this.handleClose);
  }

  unregister(connection: Connection): void {
    if (!this.connections.has(connection)) return;
    const subscribed = this.connections.get(connection);
    this.connections.delete(connection);
    connection.offClose(this.handleClose);
    if (subscribed) {
      for (const topic of subscribed) this.removeFromTopic(connection, topic);
    }
  }

  subscribe(connection: Connection, topic: string): void {
    assertTopic(topic);
    if (connection.closed) return;
    this.register(connection);
    let subscribed = this.connections.get(connection);
    if (!subscribed) {
      subscribed = new Set();
      this.connections.set(connection, subscribed);
    }
    subscribed.add(topic);
    let members = this.topics.get(topic);
    if (!members) {
      members = new Set();
      this.topics.set(topic, members);
    }
    members.add(connection);
  }

  unsubscribe(connection: Connection, topic: string): void {
    const subscribed = this.connections.get(connection);
    if (!subscribed?.delete(topic)) return;
    this.removeFromTopic(connection, topic);
  }

  private removeFromTopic(connection: Connection, topic: string): void {
    const members = this.topics.get(topic);
    if (!members) return;
    members.delete(connection);
    if (members.size === 0) this.topics.delete(topic);
  }

  broadcast(event: SseEvent): SseEvent | null {
    const hooked = this.onBroadcast ? this.onBroadcast(event) : undefined;
    if (hooked === null) return null;
    return this.deliver(hooked ?? event, undefined, this.connections.keys());
  }

  broadcastTo(topic: string, event: SseEvent): SseEvent | null {
    assertTopic(topic);
    const hooked = this.onBroadcastTo ? this.onBroadcastTo(topic, event) : undefined;
    if (hooked === null) return null;
    return this.deliver(hooked ?? event, topic, (this.topics.get(topic) ?? EMPTY).values());
  }

  /**
   * Writes bytes that are already an encoded event to every connection (or a topic's), for
   * broadcasters that receive events in wire form, such as a distributed backend's reader.
   */
  deliverEncoded(bytes: Uint8Array, id: string | undefined, topic?: string): number {
    const targets = topic === undefined ? this.connections.keys() : (this.topics.get(topic) ?? EMPTY).values();
    let delivered = 0;
    for (const connection of targets) {
      if (this.write(connection, bytes, id)) delivered++;
    }
    return delivered;
  }

  /**
   * Writes to one connection. A write that throws must not keep the event from the connections
   * after it in the loop; the failing connection is dropped (and closed, so its client
   * reconnects instead of waiting on a stream nobody writes to). `false` means the connection
   * closed (for example as `slow`): its close listener has already unregistered it.
   */
  private write(connection: Connection, bytes: Uint8Array, id: string | undefined): boolean {
    try {
      if (connection.writeEncoded(bytes, id)) return true;
    } catch {
      this.unregister(connection);
      try {
        void connection.close();
      } catch {
        // Already broken; it is out of the hub, which is what matters here.
      }
      return false;
    }
    this.unregister(connection);
    return false;
  }

  private deliver(event: SseEvent, topic: string | undefined, targets: Iterable<Connection>): SseEvent {
    // Encode (and so validate) before storing: an event that cannot be encoded must never
    // enter the replayer. The id goes in front of the body once it is known.
    const { id, ...rest } = event;
    const body = formatEventText(rest);
    let idLine = id === undefined ? '' : formatIdLine(id);
    let delivered = event;
    if (this.replayer) {
      delivered = this.replayer.store(event, topic);
      if (isPromiseLike(delivered)) {
        throw new SseOptionsError('replayer', this.replayer, 'the in-memory Hub needs a replayer whose store() is synchronous');
      }
      idLine = formatIdLine(delivered.id);
    }
    const bytes = Buffer.from(idLine + body, 'utf8');
    for (const connection of targets) this.write(connection, bytes, delivered.id);
    return delivered;
  }

  connectionCount(): number {
    return this.connections.size;
  }

  topicCount(topic: string): number {
    return this.topics.get(topic)?.size ?? 0;
  }

  /** Names of the topics that have at least one subscriber. */
  topicNames(): string[] {
    return [...this.topics.keys()];
  }

  /** Topics a connection is subscribed to. */
  topicsOf(connection: Connection): ReadonlySet<string> {
    return this.connections.get(connection) ?? EMPTY_TOPICS;
  }

  /** Closes every registered connection (for example on server shutdown). */
  close(options?: CloseOptions): void {
    for (const connection of [...this.connections.keys()]) void connection.close(options);
  }
}

const EMPTY_TOPICS: ReadonlySet<string> = new Set();

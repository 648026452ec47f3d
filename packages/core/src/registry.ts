/**
 * Who receives what, within one process: registered connections, their topics, and writing
 * encoded bytes to all of them or to a topic's subscribers. The in-memory `Hub` is a registry
 * plus hooks, a replayer and encode-once; a distributed backend composes one for its local
 * connections.
 */
import type { CloseListener, CloseOptions, Connection } from './connection.js';
import { assertTopic } from './topic.js';

const NO_CONNECTIONS: ReadonlySet<Connection> = new Set();
const NO_TOPICS: ReadonlySet<string> = new Set();

/**
 * Connections and topic subscriptions, with the write path of a broadcast. Closed connections
 * leave every map at once. All methods are synchronous.
 */
export class Registry {
  /** Each registered connection and the topics it is subscribed to. */
  private readonly connections = new Map<Connection, Set<string> | undefined>();
  private readonly topics = new Map<string, Set<Connection>>();

  private readonly handleClose: CloseListener = (_reason, connection) => {
    this.unregister(connection);
  };

  /** Adds a connection (nothing happens for a closed or known one); it leaves when it closes. */
  register(connection: Connection): void {
    if (connection.closed || this.connections.has(connection)) return;
    this.connections.set(connection, undefined);
    connection.onClose(this.handleClose);
  }

  /** Removes a connection and all its subscriptions. */
  unregister(connection: Connection): void {
    if (!this.connections.has(connection)) return;
    const subscribed = this.connections.get(connection);
    this.connections.delete(connection);
    connection.offClose(this.handleClose);
    if (subscribed) {
      for (const topic of subscribed) this.removeFromTopic(connection, topic);
    }
  }

  /**
   * Subscribes a connection to `topic`, registering it if needed.
   * @throws {SseFormatError} for a topic name that is not acceptable.
   */
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

  /** Removes one subscription. */
  unsubscribe(connection: Connection, topic: string): void {
    const subscribed = this.connections.get(connection);
    if (!subscribed?.delete(topic)) return;
    this.removeFromTopic(connection, topic);
  }

  /**
   * Writes bytes that are already a complete encoded event to every connection, or to the
   * subscribers of `topic`, with `Connection.writeEncoded`. A connection that closes on the
   * write (too slow) or whose write throws is unregistered (and closed), and the others still
   * receive. Returns how many connections took the bytes. `conflateKey` (from a broadcast's
   * `conflate` option) is handed to each write.
   */
  deliver(bytes: Uint8Array, id: string | undefined, topic?: string, conflateKey?: string): number {
    const targets = topic === undefined ? this.connections.keys() : (this.topics.get(topic) ?? NO_CONNECTIONS).values();
    let delivered = 0;
    for (const connection of targets) {
      if (this.write(connection, bytes, id, conflateKey)) delivered++;
    }
    return delivered;
  }

  /** Number of registered connections. */
  connectionCount(): number {
    return this.connections.size;
  }

  /** Number of connections subscribed to `topic`. */
  topicCount(topic: string): number {
    return this.topics.get(topic)?.size ?? 0;
  }

  /** Names of the topics that have at least one subscriber. */
  topicNames(): string[] {
    return [...this.topics.keys()];
  }

  /** The connections subscribed to `topic` now (a copy: closing them changes the registry). */
  subscribersOf(topic: string): Connection[] {
    return [...(this.topics.get(topic) ?? NO_CONNECTIONS)];
  }

  /** Topics a connection is subscribed to. */
  topicsOf(connection: Connection): ReadonlySet<string> {
    return this.connections.get(connection) ?? NO_TOPICS;
  }

  /** Closes every registered connection (for example on server shutdown). */
  close(options?: CloseOptions): void {
    for (const connection of [...this.connections.keys()]) void connection.close(options);
  }

  private removeFromTopic(connection: Connection, topic: string): void {
    const members = this.topics.get(topic);
    if (!members) return;
    members.delete(connection);
    if (members.size === 0) this.topics.delete(topic);
  }

  /**
   * Writes to one connection. A write that throws must not keep the event from the connections
   * after it in the loop; the failing connection is dropped (and closed, so its client
   * reconnects instead of waiting on a stream nobody writes to). `false` means the connection
   * closed (for example as `slow`): it is out of the registry too.
   */
  private write(connection: Connection, bytes: Uint8Array, id: string | undefined, conflateKey: string | undefined): boolean {
    try {
      if (connection.writeEncoded(bytes, id, conflateKey)) return true;
    } catch {
      this.unregister(connection);
      try {
        void connection.close();
      } catch {
        // Already broken; it is out of the registry, which is what matters here.
      }
      return false;
    }
    this.unregister(connection);
    return false;
  }
}

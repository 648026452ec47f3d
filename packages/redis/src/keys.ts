/**
 * Where a namespace lives in Redis. Every key (and shard channel) of a namespace carries the
 * `{<namespace>}` hash tag, so on a Redis Cluster they all hash to one slot, on one primary, and
 * one script can touch all of them atomically; different namespaces spread over the primaries.
 *
 * ```
 * ssekit:{<ns>}:meta         hash: clock (the newest id issued), origin (where history starts)
 * ssekit:{<ns>}:all          stream: untargeted broadcasts (maxLen, ttlMs)
 * ssekit:{<ns>}:t:<topic>    stream: one per topic (maxLen, ttlMs)
 * ```
 *
 * Each stream key is also the shard channel its entries are announced on (`SPUBLISH`), so an
 * instance subscribes exactly to the topics its connections want.
 */

/** The keys of one namespace. */
export class NamespaceKeys {
  /** The namespace. */
  readonly namespace: string;
  /** The hash with the namespace's clock and origin. */
  readonly meta: string;
  /** The stream (and channel) of untargeted broadcasts. */
  readonly untargeted: string;
  private readonly topicPrefix: string;

  constructor(namespace: string) {
    this.namespace = namespace;
    const base = `ssekit:{${namespace}}:`;
    this.meta = `${base}meta`;
    this.untargeted = `${base}all`;
    this.topicPrefix = `${base}t:`;
  }

  /** The stream (and channel) of a topic. */
  topic(topic: string): string {
    return this.topicPrefix + topic;
  }

  /** The stream of `topic`, or of untargeted broadcasts for `undefined`. */
  stream(topic: string | undefined): string {
    return topic === undefined ? this.untargeted : this.topicPrefix + topic;
  }

  /** A `SCAN MATCH` pattern for every topic stream (glob characters of the namespace escaped). */
  topicPattern(): string {
    return `${this.topicPrefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  }

  /** The topic a topic stream key belongs to; `undefined` for other keys. */
  topicOf(key: string): string | undefined {
    return key.startsWith(this.topicPrefix) ? key.slice(this.topicPrefix.length) : undefined;
  }
}

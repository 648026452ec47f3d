/**
 * Event retention for `Last-Event-ID` recovery.
 */
import { isPromiseLike, type MaybePromise, type SseEvent, type StoredEvent } from './event.js';
import { SseOptionsError } from './errors.js';
import { formatEvent } from './format.js';
import { assertKnownOptions, keysOf } from './option-keys.js';
import { DEFAULT_MAX_CONCURRENT_REPLAYS, DEFAULT_MAX_REPLAY_EVENTS, ReplayGate, type ReplayGateStats } from './replay-gate.js';
import { SeqIndex } from './seq-index.js';

/**
 * Receives one replayed event with its wire form (`formatEvent(event)`, which a replayer may
 * keep so that a reconnect storm does not encode the same event once per client). A returned
 * promise is awaited before the next event is sent.
 */
export type ReplaySend = (event: StoredEvent, encoded: Uint8Array) => MaybePromise<unknown>;

/** Options of {@link Replayer.replay}. */
export interface ReplayOptions {
  /**
   * The connection's topics: replay sends untargeted broadcasts plus events stored for one of
   * these topics. Omitted: every retained event.
   */
  topics?: readonly string[];
}

/** What a replay did. */
export interface ReplayResult {
  /** Events sent. */
  count: number;
  /**
   * True when events after `afterId` may have been lost: the id is unknown, malformed, from
   * another process, ahead of the newest, or its successors were evicted or expired. Nothing is
   * sent on a gap; the app decides what to do (for example, send a fresh snapshot).
   */
  gap: boolean;
}

/**
 * Retains broadcasts and replays those a reconnecting client missed. A broadcaster with a
 * replayer stores every event first, so the id clients see is the replayer's id.
 */
export interface Replayer {
  /** Stores an event (for `topic`, or for everyone) and returns it with its assigned id. */
  store(event: SseEvent, topic?: string): MaybePromise<StoredEvent>;
  /** Sends, in order, every retained event after `afterId` that the connection would have received. */
  replay(afterId: string, send: ReplaySend, options?: ReplayOptions): MaybePromise<ReplayResult>;
}

/** A replayer whose `store` completes synchronously, as the in-memory {@link Hub} requires. */
export interface SyncReplayer extends Replayer {
  store(event: SseEvent, topic?: string): StoredEvent;
}

/**
 * The key of a replayer's `[kAsyncStore]: true`: its `store()` always completes later (in Redis,
 * say), so an in-memory `Hub` cannot store through it. The `Hub` checks it when it is
 * created, to fail at setup rather than at the first broadcast.
 */
export const kAsyncStore: unique symbol = Symbol.for('ssekit.asyncStore');

/** Duck-type check for {@link Replayer}. */
export function isReplayer(value: unknown): value is Replayer {
  return (
    typeof value === 'object' && value !== null &&
    typeof (value as Replayer).store === 'function' &&
    typeof (value as Replayer).replay === 'function'
  );
}

interface Entry {
  readonly event: StoredEvent;
  readonly topic: string | undefined;
  readonly at: number;
  encoded: Uint8Array | undefined;
}

/** Options of {@link MemoryReplayer} beyond its two positional arguments. */
export interface MemoryReplayerOptions {
  /**
   * Id prefix identifying this replayer instance. Default: a random one per instance, so ids
   * from a previous process (or another replayer) are recognised as unknown, never misread.
   */
  prefix?: string;
  /** Clock, for tests. @defaultValue `Date.now` */
  now?: () => number;
  /**
   * A replay that would send more events than this reports a gap and sends nothing: a client
   * that missed that much is better served by fresh state than by a long catch-up.
   * @defaultValue 10000
   */
  maxReplayEvents?: number;
  /**
   * Replay reads running at once; more wait in a queue (never refused), and identical waiting
   * ones (same id, same topics) share one read.
   * @defaultValue 64
   */
  maxConcurrentReplays?: number;
}

const MEMORY_REPLAYER_KEYS = keysOf<MemoryReplayerOptions>({ prefix: true, now: true, maxReplayEvents: true, maxConcurrentReplays: true });

let instanceCounter = 0;

/** Bytes are copied; other values are kept as their JSON text, which encodes to the same bytes. */
function snapshot(data: unknown): unknown {
  if (data instanceof Uint8Array) return data.slice();
  try {
    // A value JSON cannot represent is kept as is: encoding it fails at replay, which is a gap.
    return JSON.stringify(data) ?? data;
  } catch {
    return data;
  }
}

function randomPrefix(): string {
  const random = Math.floor(Math.random() * 0x7fffffff).toString(36);
  return `${Date.now().toString(36)}${random}${(instanceCounter++).toString(36)}`;
}

const GAP: ReplayResult = Object.freeze({ count: 0, gap: true });
const NOTHING: ReplayResult = Object.freeze({ count: 0, gap: false });

/**
 * An in-memory ring buffer of the last `maxEvents` broadcasts, each kept at most `ttlMs`, with
 * an index per topic.
 *
 * Ids are `<prefix>-<sequence>`: the prefix is random per instance, so an id from before a
 * restart is reported as a gap instead of being matched against different events. Replay reads
 * only the client's topics (and untargeted broadcasts) from the index, so its cost is what the
 * client missed, not what the ring holds. A gap is reported when an event of those topics after
 * the id was evicted or expired; for a topic with nothing retained, when anything after the id
 * was evicted (the ring does not remember what an evicted topic held). Expiry is checked when
 * replaying, not only when storing.
 */
export class MemoryReplayer implements SyncReplayer {
  /** The id prefix of this instance. */
  readonly prefix: string;
  private readonly maxEvents: number;
  private readonly ttlMs: number;
  private readonly maxReplayEvents: number;
  private readonly now: () => number;
  private readonly ring: (Entry | undefined)[];
  private readonly byTopic = new Map<string, SeqIndex>();
  private readonly untargeted = new SeqIndex();
  private readonly gate: ReplayGate;
  /** Sequence number of the next stored event; the first one is 1. */
  private nextSeq = 1;

  /**
   * @param maxEvents - events retained (oldest evicted first). @defaultValue 1000
   * @param ttlMs - how long an event stays replayable in milliseconds; `0` keeps events until
   *   evicted. @defaultValue 0
   */
  constructor(maxEvents = 1000, ttlMs = 0, options: MemoryReplayerOptions = {}) {
    if (!Number.isSafeInteger(maxEvents) || maxEvents < 1) {
      throw new SseOptionsError('maxEvents', maxEvents, 'must be a positive integer');
    }
    if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs < 0) {
      throw new SseOptionsError('ttlMs', ttlMs, 'must be a non-negative number of milliseconds');
    }
    if (typeof options !== 'object' || options === null) {
      throw new SseOptionsError('options', options, 'must be an object');
    }
    assertKnownOptions(options, MEMORY_REPLAYER_KEYS);
    if (options.now !== undefined && typeof options.now !== 'function') {
      throw new SseOptionsError('now', options.now, 'must be a function returning milliseconds');
    }
    const prefix = options.prefix ?? randomPrefix();
    if (!/^[A-Za-z0-9_.]+$/.test(prefix)) {
      throw new SseOptionsError('prefix', prefix, 'must be letters, digits, "_" or "."');
    }
    const maxReplayEvents = options.maxReplayEvents ?? DEFAULT_MAX_REPLAY_EVENTS;
    if (!Number.isSafeInteger(maxReplayEvents) || maxReplayEvents < 1) {
      throw new SseOptionsError('maxReplayEvents', maxReplayEvents, 'must be a positive integer');
    }
    this.prefix = prefix;
    this.maxEvents = maxEvents;
    this.ttlMs = ttlMs;
    this.maxReplayEvents = maxReplayEvents;
    this.now = options.now ?? Date.now;
    this.ring = new Array<Entry | undefined>(maxEvents);
    this.gate = new ReplayGate(options.maxConcurrentReplays ?? DEFAULT_MAX_CONCURRENT_REPLAYS);
  }

  /** Number of events currently retained (expired ones included until evicted). */
  get size(): number {
    return Math.min(this.nextSeq - 1, this.maxEvents);
  }

  /** The newest id, or `undefined` before the first store. */
  lastId(): string | undefined {
    return this.nextSeq > 1 ? `${this.prefix}-${this.nextSeq - 1}` : undefined;
  }

  /** Replay reads and requests so far (requests above reads were served by a shared read). */
  replayStats(): ReplayGateStats {
    return this.gate.stats();
  }

  store(event: SseEvent, topic?: string): StoredEvent {
    const seq = this.nextSeq++;
    const stored: StoredEvent = { ...event, id: `${this.prefix}-${seq}` };
    const data = event.data;
    // Retain what was sent, not a reference the app may change after broadcasting (a state
    // object updated in place): a replay must send the bytes live clients got.
    const kept = data === undefined || typeof data === 'string' ? stored : { ...stored, data: snapshot(data) };
    const slot = seq % this.maxEvents;
    const evicted = this.ring[slot];
    if (evicted) this.evict(evicted, seq - this.maxEvents);
    this.ring[slot] = { event: kept, topic, at: this.now(), encoded: undefined };
    this.indexOf(topic, true)!.push(seq);
    return stored;
  }

  private evict(entry: Entry, seq: number): void {
    const index = this.indexOf(entry.topic, false)!;
    index.shift(seq);
    // A topic with nothing retained leaves the index (so memory follows what is retained);
    // replay then judges it by the ring's oldest event instead.
    if (entry.topic !== undefined && index.size === 0) this.byTopic.delete(entry.topic);
  }

  private indexOf(topic: string | undefined, create: boolean): SeqIndex | undefined {
    if (topic === undefined) return this.untargeted;
    let index = this.byTopic.get(topic);
    if (!index && create) {
      index = new SeqIndex();
      this.byTopic.set(topic, index);
    }
    return index;
  }

  /** Parses an id of this instance into its sequence number; `undefined` for anything else. */
  private seqOf(id: string): number | undefined {
    if (typeof id !== 'string' || id.length > this.prefix.length + 17 || !id.startsWith(this.prefix) || id.charCodeAt(this.prefix.length) !== 45) {
      return undefined;
    }
    const digits = id.slice(this.prefix.length + 1);
    if (!/^(0|[1-9][0-9]{0,15})$/.test(digits)) return undefined;
    const seq = Number(digits);
    return Number.isSafeInteger(seq) ? seq : undefined;
  }

  async replay(afterId: string, send: ReplaySend, options: ReplayOptions = {}): Promise<ReplayResult> {
    const after = this.seqOf(afterId);
    // Unknown, malformed, from another instance, or ahead of the newest: never guess.
    if (after === undefined || after > this.nextSeq - 1) return GAP;
    if (after === this.nextSeq - 1) return NOTHING;
    const topics = options.topics === undefined ? undefined : [...new Set(options.topics)].sort();
    const key = topics === undefined ? `${after}\u0001` : `${after}\u0000${topics.join('\u0000')}`;
    // The read is a snapshot: `send` may await, and new stores must not shift what is sent.
    const entries = await this.gate.run(key, () => Promise.resolve(this.read(after, topics)));
    if (entries === undefined) return GAP;
    let count = 0;
    for (const entry of entries) {
      entry.encoded ??= formatEvent(entry.event);
      const result = send(entry.event, entry.encoded);
      if (isPromiseLike(result)) await result;
      count++;
    }
    return { count, gap: false };
  }

  /** The retained events after `after` for `topics` (all with `undefined`); `undefined` on a gap. */
  private read(after: number, topics: readonly string[] | undefined): Entry[] | undefined {
    const newest = this.nextSeq - 1;
    if (after >= newest) return [];
    const oldest = Math.max(1, newest - this.maxEvents + 1);
    const horizon = this.ttlMs > 0 ? this.now() - this.ttlMs : -Infinity;
    if (topics === undefined) {
      // The first missed event was evicted, or there is more than a replay may send.
      if (after + 1 < oldest || newest - after > this.maxReplayEvents) return undefined;
      const entries: Entry[] = [];
      for (let seq = after + 1; seq <= newest; seq++) entries.push(this.ring[seq % this.maxEvents]!);
      // Events are stored in time order: if the first missed one expired, it is lost.
      return entries[0]!.at < horizon ? undefined : entries;
    }
    const parts: number[][] = [];
    let total = 0;
    for (const index of [this.untargeted, ...topics.map((topic) => this.byTopic.get(topic))]) {
      if (index === undefined) {
        // Nothing retained for the topic: it may have had events among those evicted.
        if (after + 1 < oldest) return undefined;
        continue;
      }
      if (index.lastEvicted > after) return undefined;
      const seqs = index.after(after);
      if (seqs.length === 0) continue;
      if (this.ring[seqs[0]! % this.maxEvents]!.at < horizon) return undefined;
      total += seqs.length;
      if (total > this.maxReplayEvents) return undefined;
      parts.push(seqs);
    }
    const merged = parts.length === 1 ? parts[0]! : parts.flat().sort((a, b) => a - b);
    return merged.map((seq) => this.ring[seq % this.maxEvents]!);
  }
}

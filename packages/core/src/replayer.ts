/**
 * Event retention for `Last-Event-ID` recovery.
 */
import { isPromiseLike, type MaybePromise, type SseEvent, type StoredEvent } from './event.js';
import { SseOptionsError } from './errors.js';
import { formatEvent } from './format.js';
import { assertKnownOptions, keysOf } from './option-keys.js';

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
}

const MEMORY_REPLAYER_KEYS = keysOf<MemoryReplayerOptions>({ prefix: true, now: true });

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

/**
 * An in-memory ring buffer of the last `maxEvents` broadcasts, each kept at most `ttlMs`.
 *
 * Ids are `<prefix>-<sequence>`: the prefix is random per instance, so an id from before a
 * restart is reported as a gap instead of being matched against different events. Lookup of
 * `afterId` is O(1); expiry is checked when replaying, not only when storing.
 */
export class MemoryReplayer implements SyncReplayer {
  /** The id prefix of this instance. */
  readonly prefix: string;
  private readonly maxEvents: number;
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly ring: (Entry | undefined)[];
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
    this.prefix = prefix;
    this.maxEvents = maxEvents;
    this.ttlMs = ttlMs;
    this.now = options.now ?? Date.now;
    this.ring = new Array<Entry | undefined>(maxEvents);
  }

  /** Number of events currently retained (expired ones included until evicted). */
  get size(): number {
    return Math.min(this.nextSeq - 1, this.maxEvents);
  }

  /** The newest id, or `undefined` before the first store. */
  lastId(): string | undefined {
    return this.nextSeq > 1 ? `${this.prefix}-${this.nextSeq - 1}` : undefined;
  }

  store(event: SseEvent, topic?: string): StoredEvent {
    const seq = this.nextSeq++;
    const stored: StoredEvent = { ...event, id: `${this.prefix}-${seq}` };
    const data = event.data;
    // Retain what was sent, not a reference the app may change after broadcasting (a state
    // object updated in place): a replay must send the bytes live clients got.
    const kept = data === undefined || typeof data === 'string' ? stored : { ...stored, data: snapshot(data) };
    this.ring[seq % this.maxEvents] = { event: kept, topic, at: this.now(), encoded: undefined };
    return stored;
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
    const newest = this.nextSeq - 1;
    // Unknown, malformed, from another instance, or ahead of the newest: never guess.
    if (after === undefined || after > newest) return { count: 0, gap: true };
    if (after === newest) return { count: 0, gap: false };
    const oldest = Math.max(1, newest - this.maxEvents + 1);
    // The first missed event was evicted.
    if (after + 1 < oldest) return { count: 0, gap: true };
    const horizon = this.ttlMs > 0 ? this.now() - this.ttlMs : -Infinity;
    // Events are stored in time order: if the first missed one expired, it is lost.
    const first = this.ring[(after + 1) % this.maxEvents];
    if (!first || first.at < horizon) return { count: 0, gap: true };

    const topics = options.topics;
    const wanted = topics === undefined ? undefined : new Set(topics);
    // Snapshot before sending: `send` may await, and new stores must not shift what we read.
    const entries: Entry[] = [];
    for (let seq = after + 1; seq <= newest; seq++) {
      const entry = this.ring[seq % this.maxEvents]!;
      if (entry.topic === undefined || wanted === undefined || wanted.has(entry.topic)) entries.push(entry);
    }
    let count = 0;
    for (const entry of entries) {
      entry.encoded ??= formatEvent(entry.event);
      const result = send(entry.event, entry.encoded);
      if (isPromiseLike(result)) await result;
      count++;
    }
    return { count, gap: false };
  }
}

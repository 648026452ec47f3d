/**
 * Appending to and replaying from one capped Redis Stream: the part {@link RedisBroadcaster}
 * and {@link RedisReplayer} share.
 */
import {
  type ReplayOptions,
  type ReplayResult,
  type ReplaySend,
  type SseEvent,
  type StoredEvent,
} from '@ssekit/core';
import { assertTopic } from '@ssekit/core/integration';
import { decodeRange, entryBytes, entryEvent, rawId, toFields } from './entry.js';
import { RedisUnavailableError } from './errors.js';
import { withTimeout, type Link } from './link.js';
import { compareStreamIds, normalizeStreamId } from './stream-id.js';

/** Validated settings of a stream. */
export interface StoreSettings {
  /** The stream's key. */
  readonly key: string;
  /** Entries kept (XADD MAXLEN). */
  readonly maxLen: number;
  /** `true`: trim to exactly `maxLen`; `false`: `MAXLEN ~`, which Redis does cheaply. */
  readonly exactTrim: boolean;
  /** Bound on each command's answer, in milliseconds. */
  readonly timeoutMs: number;
  /** Entries fetched per XRANGE/XREAD. */
  readonly batchSize: number;
}

const GAP: ReplayResult = Object.freeze({ count: 0, gap: true });

/** The stream one namespace's events live in. */
export class StreamStore {
  readonly link: Link;
  readonly settings: StoreSettings;
  private readonly trim: string[];

  constructor(link: Link, settings: StoreSettings) {
    this.link = link;
    this.settings = settings;
    this.trim = settings.exactTrim ? ['MAXLEN', String(settings.maxLen)] : ['MAXLEN', '~', String(settings.maxLen)];
  }

  /**
   * Validates and encodes an event for {@link StreamStore.append}.
   * @throws {SseFormatError} for an event or topic that cannot be written.
   */
  prepare(event: SseEvent, topic: string | undefined): string[] {
    if (topic !== undefined) assertTopic(topic);
    return toFields(event, topic);
  }

  /**
   * Appends prepared fields; resolves with the event and its stream id.
   * @throws {RedisUnavailableError} when Redis does not take it; see its `stored` field.
   */
  async append(event: SseEvent, fields: string[]): Promise<StoredEvent> {
    const { key, timeoutMs } = this.settings;
    await this.link.whenReady(timeoutMs, 'the event');
    let id: string | null;
    try {
      id = await withTimeout(
        this.link.client.xadd(key, ...(this.trim as ['MAXLEN', string]), '*', ...fields),
        timeoutMs,
        () => new RedisUnavailableError(`Redis did not answer XADD within ${timeoutMs} ms; the event may have been stored`, 'unknown'),
      );
    } catch (error) {
      throw publishError(error);
    }
    if (typeof id !== 'string') throw new RedisUnavailableError('Redis returned no id for XADD', false);
    return { ...event, id };
  }

  /** {@link StreamStore.prepare} then {@link StreamStore.append}. */
  add(event: SseEvent, topic: string | undefined): Promise<StoredEvent> {
    let fields: string[];
    try {
      fields = this.prepare(event, topic);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.append(event, fields);
  }

  /** One bounded command on the store's connection; failures become {@link RedisUnavailableError}. */
  async command<T>(run: () => Promise<T>, what: string): Promise<T> {
    const { timeoutMs } = this.settings;
    await this.link.whenReady(timeoutMs, what);
    try {
      return await withTimeout(run(), timeoutMs, () => new Error(`no answer within ${timeoutMs} ms`));
    } catch (error) {
      if (error instanceof RedisUnavailableError) throw error;
      throw new RedisUnavailableError(`Redis ${what} failed: ${messageOf(error)}`, false, { cause: error });
    }
  }

  /** The newest entry id, or `undefined` when the stream is empty or missing. */
  async newestId(): Promise<string | undefined> {
    const reply = await this.command(() => this.link.client.xrevrange(this.settings.key, '+', '-', 'COUNT', 1), 'XREVRANGE');
    return rawId((reply as unknown[])[0]);
  }

  /** True when an entry with this exact id is still in the stream. */
  async has(id: string): Promise<boolean> {
    const reply = await this.command(() => this.link.client.xrange(this.settings.key, id, id), 'XRANGE');
    return (reply as unknown[]).length > 0;
  }

  /**
   * Sends every entry after `afterId` up to `end` (inclusive; `+` for the newest) that the
   * connection would have received.
   *
   * There is no gap only when `afterId` itself is still in the stream: trimming removes the
   * oldest entries first, so then every entry after it is retained too, and an id from another
   * stream, or from before Redis lost its data, cannot match by accident. Each batch starts at
   * the last id sent (inclusive) and checks it is still there; if trimming overtook the replay
   * half-way, the result is a gap with `count` > 0 (the events sent are correct and in order,
   * but some after them are gone).
   */
  async replay(afterId: string, end: string, send: ReplaySend, options: ReplayOptions = {}): Promise<ReplayResult> {
    let start = normalizeStreamId(afterId);
    if (start === undefined) return GAP;
    if (end !== '+' && compareStreamIds(start, end) > 0) return (await this.has(start)) ? { count: 0, gap: false } : GAP;
    const wanted = options.topics === undefined ? undefined : new Set(options.topics);
    const { key, batchSize } = this.settings;
    let count = 0;
    for (;;) {
      const from = start;
      const reply = await this.command(() => this.link.client.xrange(key, from, end, 'COUNT', batchSize + 1), 'XRANGE');
      const items = decodeRange(reply);
      if (items[0]?.id !== from) return count === 0 ? GAP : { count, gap: true };
      for (let i = 1; i < items.length; i++) {
        const entry = items[i]!.entry;
        if (entry === undefined) continue;
        if (entry.topic !== undefined && wanted !== undefined && !wanted.has(entry.topic)) continue;
        const result = send(entryEvent(entry), entryBytes(entry));
        if (result !== undefined && typeof (result as Promise<unknown>).then === 'function') await result;
        count++;
      }
      if (items.length <= batchSize) return { count, gap: false };
      start = items[items.length - 1]!.id;
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Says whether a failed XADD may have been stored. A Redis error reply, or a command refused
 * before it was written to the socket, was not; a dropped connection or a timeout leaves it
 * unknown.
 */
function publishError(error: unknown): RedisUnavailableError {
  if (error instanceof RedisUnavailableError) return error;
  const message = messageOf(error);
  const name = error instanceof Error ? error.name : '';
  if (name === 'ReplyError') {
    return new RedisUnavailableError(`Redis refused the event: ${message}`, false, { cause: error });
  }
  if (message.includes('enableOfflineQueue')) {
    return new RedisUnavailableError(`Redis is not connected; the event was not sent (${message})`, false, { cause: error });
  }
  return new RedisUnavailableError(`Redis connection lost while storing the event; it may have been stored (${message})`, 'unknown', { cause: error });
}

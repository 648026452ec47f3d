/**
 * Replay over the per-topic streams, for {@link RedisBroadcaster} and {@link RedisReplayer}:
 * one read for all of a client's topics (plus untargeted broadcasts), behind a
 * {@link ReplayGate} so a reconnect storm is served at a bounded pace and identical waiting
 * requests share a read.
 */
import type { ReplayOptions, ReplayResult, ReplaySend } from '@ssekit/core';
import { ReplayGate } from '@ssekit/core/integration';
import type { StreamEntry } from './entry.js';
import type { History, ReadRange } from './history.js';
import { normalizeStreamId } from './stream-id.js';

const GAP: ReplayResult = Object.freeze({ count: 0, gap: true });

/** What a replay reads up to: a topic's (untargeted: `undefined`) last id, or `+`. */
export type ReplayEnd = (topic: string | undefined) => string;

/** Reads and sends replays of one namespace. */
export class ReplayReader {
  readonly gate: ReplayGate;
  private readonly history: History;
  private readonly maxReplayEvents: number;
  private readonly end: ReplayEnd;
  private readonly before: () => Promise<void>;

  constructor(history: History, options: { maxReplayEvents: number; maxConcurrentReplays: number; end: ReplayEnd; before: () => Promise<void> }) {
    this.history = history;
    this.gate = new ReplayGate(options.maxConcurrentReplays);
    this.maxReplayEvents = options.maxReplayEvents;
    this.end = options.end;
    this.before = options.before;
  }

  /**
   * Sends, in id order, the retained events after `afterId` of `options.topics` and untargeted
   * broadcasts (every topic when omitted). A gap (nothing sent) for a malformed or unknown id,
   * for an event after it that is gone, and for more than `maxReplayEvents` events.
   * @throws {RedisUnavailableError} when Redis cannot be read (`withReplay` reports a gap).
   */
  async replay(afterId: string, send: ReplaySend, options: ReplayOptions = {}): Promise<ReplayResult> {
    const after = normalizeStreamId(afterId);
    if (after === undefined) return GAP;
    const topics = options.topics === undefined ? undefined : [...new Set(options.topics)].sort();
    const key = topics === undefined ? `${after}\u0001` : `${after}\u0000${topics.join('\u0000')}`;
    const entries = await this.gate.run(key, () => this.read(after, topics));
    if (entries === undefined) return GAP;
    let count = 0;
    for (const entry of entries) {
      const result = send(entry.event, entry.bytes);
      if (result !== undefined && typeof (result as Promise<unknown>).then === 'function') await result;
      count++;
    }
    return { count, gap: false };
  }

  /** The entries to send, or `undefined` on a gap. The end of each range is taken now. */
  private async read(after: string, topics: readonly string[] | undefined): Promise<StreamEntry[] | undefined> {
    await this.before();
    const { keys } = this.history;
    try {
      const ranges: ReadRange[] = [{ key: keys.untargeted, to: this.end(undefined) }];
      if (topics === undefined) {
        for (const key of await this.history.topicStreams()) ranges.push({ key, to: this.end(keys.topicOf(key)) });
      } else {
        for (const topic of topics) ranges.push({ key: keys.topic(topic), to: this.end(topic) });
      }
      const entries = await this.history.read(after, ranges, this.maxReplayEvents);
      return Array.isArray(entries) ? entries : undefined;
    } catch (error) {
      this.history.failed('replay');
      throw error;
    }
  }
}

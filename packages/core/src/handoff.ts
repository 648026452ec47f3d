/**
 * The gap-free handoff from replay to live delivery: while a reconnecting connection is sent
 * what it missed, live broadcasts for it wait in its {@link LiveQueue}, then follow.
 */
import type { Broadcaster } from './broadcaster.js';
import type { Connection } from './connection.js';
import type { SseEvent } from './event.js';
import { formatEvent } from './format.js';
import type { Replayer, ReplayResult } from './replayer.js';

const ignore = (): void => {};

/** The event sent on a replay gap when `resetEvent` is `true`. */
export const RESET_EVENT: Readonly<SseEvent> = Object.freeze({ event: 'ssekit-reset', data: 'gap' });

/**
 * Live writes held back while a connection replays. A connection that has one queues every
 * broadcast in it instead of writing; the handoff then writes the queue behind the replay.
 */
export class LiveQueue {
  private readonly bytes: Uint8Array[] = [];
  private readonly ids: (string | undefined)[] = [];
  /** Bytes queued. */
  size = 0;

  /** Queues one encoded event; `false` (nothing queued) when it would pass `limit` bytes. */
  push(bytes: Uint8Array, id: string | undefined, limit: number): boolean {
    if (this.size + bytes.length > limit) return false;
    this.bytes.push(bytes);
    this.ids.push(id);
    this.size += bytes.length;
    return true;
  }

  /**
   * Hands the queue to `write` in order, skipping events whose id is in `skipIds` (the replay
   * sent them already). Stops once `write` returns `false` (the connection closed).
   */
  flush(write: (bytes: Uint8Array) => boolean, skipIds?: ReadonlySet<string>): void {
    for (let i = 0; i < this.bytes.length; i++) {
      const id = this.ids[i];
      if (id !== undefined && skipIds?.has(id)) continue;
      if (!write(this.bytes[i]!)) return;
    }
  }
}

/** Options of {@link withReplay}. */
export interface WithReplayOptions {
  /** Where the connection is registered and subscribed. */
  broadcaster: Broadcaster;
  /** Where missed events come from; without one, nothing is replayed. */
  replayer?: Replayer | undefined;
  /** Topics to subscribe the connection to (and to filter replay by). */
  topics?: readonly string[] | undefined;
  /** The id to resume after. Default: `connection.lastEventId`. */
  lastEventId?: string | undefined;
  /** Set `false` to skip replay even when the client sent an id. @defaultValue true */
  replay?: boolean | undefined;
  /**
   * On a gap, send an event telling the page to reload its state: `true` sends
   * {@link RESET_EVENT} (`event: ssekit-reset`), an event object sends that event.
   * @defaultValue false
   */
  resetEvent?: boolean | SseEvent | undefined;
}

/**
 * Registers a connection, subscribes it to its topics and replays what it missed, with no gap
 * and no duplicate between replayed and live events:
 *
 * 1. live broadcasts for the connection are queued (`hold`), then it is registered and
 *    subscribed, so nothing broadcast from now on can be missed;
 * 2. the replayer sends every retained event after `lastEventId`;
 * 3. the queue is flushed, skipping events the replay already sent.
 *
 * On a gap (unknown, evicted or expired id) nothing is replayed, `connection.replayGap` becomes
 * true and, with `resetEvent`, a reset event is sent. A replayer that fails counts as a gap:
 * the stream stays healthy and the app learns that state must be refreshed.
 */
export async function withReplay(connection: Connection, options: WithReplayOptions): Promise<ReplayResult> {
  const { broadcaster, replayer, topics = [] } = options;
  const afterId = options.lastEventId ?? connection.lastEventId;
  const replaying = replayer !== undefined && afterId !== undefined && options.replay !== false;
  if (replaying) connection.hold();
  try {
    await broadcaster.register(connection);
    for (const topic of topics) await broadcaster.subscribe(connection, topic);
    if (!replaying) return { count: 0, gap: false };

    const sent = new Set<string>();
    let result: ReplayResult;
    try {
      result = await replayer.replay(
        afterId,
        (event, encoded) => {
          sent.add(event.id);
          // Written ahead of the queue, which holds only what arrived after registration.
          if (!connection.writeEncoded(encoded ?? formatEvent(event), event.id, true)) return undefined;
          // Wait for the socket to drain: a client resuming after a long absence may have missed
          // more than `maxBufferedBytes`, and writing it all at once would close it as `slow`
          // again, at every reconnect, so it would never catch up.
          return connection.drained?.().catch(ignore);
        },
        { topics },
      );
    } catch {
      result = { count: 0, gap: true };
    }
    if (result.gap) {
      connection.markReplayGap();
      const reset = options.resetEvent === true ? RESET_EVENT : options.resetEvent || undefined;
      if (reset) connection.writeEncoded(formatEvent(reset), reset.id, true);
    }
    connection.release(sent);
    return result;
  } catch (error) {
    connection.release();
    throw error;
  }
}

/**
 * The gap-free handoff from replay to live delivery: while a reconnecting connection is sent
 * what it missed, live broadcasts for it wait in its {@link LiveQueue}, then follow.
 */
import type { Broadcaster } from './broadcaster.js';
import type { Connection } from './connection.js';
import type { SseEvent } from './event.js';
import { SseOptionsError } from './errors.js';
import { formatEvent } from './format.js';
import { assertKnownOptions, keysOf } from './option-keys.js';
import type { Replayer, ReplayResult } from './replayer.js';

/**
 * Replayed events are written in batches of about this many bytes while the socket keeps up:
 * one write (one system call) per batch instead of one per event, which is most of a reconnect
 * storm's cost. Once bytes wait in the process (backpressure), each event is written on its own
 * and the replay waits for the drain, as without batching.
 */
const REPLAY_BATCH_BYTES = 16 * 1024;

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

/**
 * The key of a connection's handoff. Module-private: no entry point exports it, so only core
 * reaches the handoff, and an application cannot call it by accident.
 */
export const kHandoff: unique symbol = Symbol('ssekit.handoff');

/** What the handoff needs from a connection; {@link SseConnection} has it under {@link kHandoff}. */
export interface Handoff {
  /** Queues live broadcasts (`writeEncoded`) instead of writing them. */
  queueLive(): void;
  /** Writes a replayed event ahead of the queue; `false` once the connection has closed. */
  writeAhead(bytes: Uint8Array): boolean;
  /**
   * Resolves `true` once the transport has taken what was written below its high-water mark
   * (at once when it already has), `false` when the connection closes first.
   */
  drained(): Promise<boolean>;
  /** Records that replay found a gap (`connection.replayGap`). */
  markGap(): void;
  /**
   * Writes the queued broadcasts, skipping those whose id is in `skipIds` (the replay sent
   * them already), and resumes direct writes.
   */
  flushLive(skipIds?: ReadonlySet<string>): void;
}

/**
 * The handoff of `connection`: an {@link SseConnection}'s own, also when it is reached through a
 * subclass, a `Proxy` or an object whose prototype is one. `undefined` for any other object.
 */
export function handoffOf(connection: Connection): Handoff | undefined {
  return kHandoff in connection ? (connection as Connection & { readonly [kHandoff]: Handoff })[kHandoff] : undefined;
}

/** Options of {@link withReplay}. */
export interface WithReplayOptions {
  /** Where the connection is registered and subscribed (an adapter's `hub`). */
  hub: Broadcaster;
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

const WITH_REPLAY_KEYS = keysOf<WithReplayOptions>({ hub: true, replayer: true, topics: true, lastEventId: true, replay: true, resetEvent: true });

/**
 * Registers a connection, subscribes it to its topics and replays what it missed, with no gap
 * and no duplicate between replayed and live events:
 *
 * 1. live broadcasts for the connection are queued, then it is registered and subscribed, so
 *    nothing broadcast from now on can be missed;
 * 2. the replayer sends every retained event after `lastEventId`, ahead of the queue, in
 *    batches while the transport keeps up and waiting for it to drain when it does not;
 * 3. the queue is flushed, skipping events the replay already sent.
 *
 * On a gap (unknown, evicted or expired id) nothing is replayed, `connection.replayGap` becomes
 * true and, with `resetEvent`, a reset event is sent. A replayer that fails counts as a gap:
 * the stream stays healthy and the app learns that state must be refreshed.
 *
 * @throws {SseOptionsError} (as a rejection) for an unknown option, and when there is something to replay and
 *   `connection` is not built on an {@link SseConnection} (see {@link Provider}).
 */
export async function withReplay(connection: Connection, options: WithReplayOptions): Promise<ReplayResult> {
  assertKnownOptions(options, WITH_REPLAY_KEYS);
  const { hub, replayer, topics = [] } = options;
  const afterId = options.lastEventId ?? connection.lastEventId;
  const replaying = replayer !== undefined && afterId !== undefined && options.replay !== false;
  const handoff = replaying ? handoffOf(connection) : undefined;
  if (replaying && handoff === undefined) {
    throw new SseOptionsError('connection', connection, 'cannot take a replay: it is not an SseConnection, nor built on one');
  }
  handoff?.queueLive();
  try {
    await hub.register(connection);
    for (const topic of topics) await hub.subscribe(connection, topic);
    if (!handoff) return { count: 0, gap: false };

    const sent = new Set<string>();
    let batch: Uint8Array[] = [];
    let batchBytes = 0;
    const flush = (): Promise<boolean> | undefined => {
      if (batch.length === 0) return undefined;
      const bytes = batch.length === 1 ? batch[0]! : Buffer.concat(batch, batchBytes);
      batch = [];
      batchBytes = 0;
      // Written ahead of the queue, which holds only what arrived after registration.
      if (!handoff.writeAhead(bytes)) return undefined;
      // Wait for the socket to drain: a client resuming after a long absence may have missed
      // more than `maxBufferedBytes`, and writing it all at once would close it as `slow`
      // again, at every reconnect, so it would never catch up.
      return handoff.drained();
    };
    let result: ReplayResult;
    try {
      result = await replayer!.replay(
        afterId!,
        (event, encoded) => {
          sent.add(event.id);
          batch.push(encoded);
          batchBytes += encoded.length;
          return batchBytes >= REPLAY_BATCH_BYTES || connection.bufferedBytes > 0 ? flush() : undefined;
        },
        { topics },
      );
    } catch {
      result = { count: 0, gap: true };
    }
    // What was handed over is sent even if the replayer failed after it: those ids are skipped
    // in the queue below.
    await flush();
    if (result.gap) {
      handoff.markGap();
      const reset = options.resetEvent === true ? RESET_EVENT : options.resetEvent || undefined;
      if (reset) handoff.writeAhead(formatEvent(reset));
    }
    handoff.flushLive(sent);
    return result;
  } catch (error) {
    handoff?.flushLive();
    throw error;
  }
}

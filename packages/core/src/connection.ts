/**
 * One open event stream: headers, heartbeat, backpressure, slow-client policy and close.
 */
import { defaultCoalescer, kCork, kUncork, NO_STAMP, type Corkable } from './coalesce.js';
import type { SseEvent } from './event.js';
import { SseClosedError, type CloseReason } from './errors.js';
import { formatComment, formatEvent } from './format.js';
import { LiveQueue } from './handoff.js';
import { streamHeaders } from './headers.js';
import { joinHeartbeat, kHeartbeat, leaveHeartbeat, type HeartbeatMember } from './heartbeat.js';
import type { ResolvedConnectionOptions } from './options.js';
import type { SseSink } from './sink.js';

/** Called once when a connection closes, with the reason and the connection. */
export type CloseListener = (reason: CloseReason, connection: Connection) => void;

/** An item {@link Connection.pipe} accepts: an event, or a string sent as a `message`'s data. */
export type PipeItem = SseEvent | string;

/**
 * An open event stream to one client. Implemented by {@link SseConnection}; a custom
 * {@link Provider} may return its own implementation.
 */
export interface Connection {
  /** True once the connection has closed, whoever closed it. */
  readonly closed: boolean;
  /** Why the connection closed; `undefined` while open. */
  readonly closeReason: CloseReason | undefined;
  /** Aborts when the connection closes: pass it to work that should stop with the client. */
  readonly signal: AbortSignal;
  /** The id the client sent back (`Last-Event-ID` header or `lastEventId` query), if any. */
  readonly lastEventId: string | undefined;
  /**
   * True when the client asked to resume after an id the replayer no longer (or never) had:
   * events may have been missed, and the app should send fresh state.
   */
  readonly replayGap: boolean;
  /** Bytes written but not yet handed to the kernel. */
  readonly bufferedBytes: number;
  /**
   * Sends one event. Resolves when the bytes are accepted (after `drain` under backpressure).
   * @throws {SseFormatError} (as a rejection) for an event that cannot be encoded.
   * @throws {SseClosedError} (as a rejection) once the connection is closed.
   */
  send(event: SseEvent): Promise<void>;
  /** Sends a comment; clients ignore it. Rejects like {@link Connection.send}. */
  sendComment(text?: string): Promise<void>;
  /** Tells the client how long to wait before reconnecting, in milliseconds. */
  setRetry(ms: number): Promise<void>;
  /**
   * Sends every item of an (async) iterable with backpressure. Resolves when the source ends or
   * the connection closes; in the latter case the iterator's `return()` is called so the source
   * (a database cursor, an LLM stream) can stop.
   */
  pipe(source: AsyncIterable<PipeItem> | Iterable<PipeItem>): Promise<void>;
  /**
   * Ends the stream (idempotent). `retryMs` sends a last `retry:` hint first, for example to
   * spread reconnects after a deploy.
   */
  close(options?: { retryMs?: number }): void;
  /** Resolves with the close reason once the connection has closed. */
  closedPromise(): Promise<CloseReason>;
  /** Calls `listener` once on close (at once if already closed). */
  onClose(listener: CloseListener): void;
  /** Removes a listener added with {@link Connection.onClose}. */
  offClose(listener: CloseListener): void;
  /**
   * Writes bytes that are already a complete encoded event (from {@link formatEvent}): the path
   * broadcasters use so that an event is encoded once for all its receivers. `id` identifies
   * the event for the replay handoff. `ahead` writes past the replay-handoff queue (used for
   * replayed events). Returns false when nothing was written (closed, or closed now because the
   * client is too slow).
   */
  writeEncoded(bytes: Uint8Array, id?: string, ahead?: boolean): boolean;
  /**
   * Replay handoff, first step: queue broadcasts instead of writing them. Used by
   * {@link withReplay}; not needed by applications.
   */
  hold(): void;
  /**
   * Replay handoff, last step: write the queued broadcasts, skipping those whose id is in
   * `skipIds` (already written by the replay), and resume direct writes.
   */
  release(skipIds?: ReadonlySet<string>): void;
  /** Records that replay found a gap. */
  markReplayGap(): void;
  /**
   * Resolves once the transport has taken the bytes written so far below its high-water mark
   * (at once when it already has); rejects with {@link SseClosedError} once closed. Lets code
   * that writes with {@link Connection.writeEncoded}, such as replay, respect backpressure.
   * Optional, so that custom connections written before it keep working.
   */
  drained?(): Promise<void>;
}

const HEARTBEAT = formatComment('');
const RESOLVED: Promise<void> = Promise.resolve();
const noop = (): void => {};

/** A rejected promise that does not crash the process when the caller does not await it. */
function quietReject<T>(error: Error): Promise<T> {
  const p = Promise.reject<T>(error);
  p.catch(noop);
  return p;
}

/**
 * The {@link Connection} implementation over an {@link SseSink}.
 *
 * Sets `Content-Type: text/event-stream; charset=utf-8`, `Cache-Control: no-cache,
 * no-transform`, `X-Accel-Buffering: no` and (HTTP/1 only) `Connection: keep-alive`, and
 * flushes them at once.
 */
export class SseConnection implements Connection, HeartbeatMember, Corkable {
  readonly lastEventId: string | undefined;
  private readonly sink: SseSink;
  private readonly heartbeatMs: number;
  private readonly maxBufferedBytes: number;
  private reason: CloseReason | undefined;
  private gap = false;
  private wrote = false;
  private isCorked = false;
  /** The coalescer's stamp of this connection's last broadcast write. */
  private stamp = NO_STAMP;
  /** The last write returned false and no `drain` came since. */
  private needDrain = false;
  /** Live broadcasts held back during the replay handoff. */
  private live: LiveQueue | undefined;
  /**
   * An upper bound of the sink's buffered bytes, kept from the exact size last read plus what
   * each write since can have added, so that the exact size (a chain of getters on the response)
   * is read only when the bound could pass the limit. Infinity: read it on the next write.
   */
  private bufferBound = Infinity;
  /** Writes since the exact size was last read (it is read at least every 64 writes). */
  private unchecked = 0;
  private listeners: CloseListener[] | undefined;
  private abort: AbortController | undefined;
  private drainWait: { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } | undefined;

  constructor(sink: SseSink, options: ResolvedConnectionOptions, lastEventId?: string) {
    this.sink = sink;
    this.heartbeatMs = options.heartbeatMs;
    this.maxBufferedBytes = options.maxBufferedBytes;
    this.lastEventId = lastEventId;

    if (sink.destroyed) {
      this.reason = 'client';
      return;
    }
    sink.bind(this.onDrain, this.onTransportClose);
    sink.open(streamHeaders(sink.http2, options.headers));
    if (options.retryMs !== undefined) this.writeRaw(formatEvent({ retry: options.retryMs }));
    this.sink.flush();
    if (this.heartbeatMs > 0 && this.reason === undefined) joinHeartbeat(this, this.heartbeatMs);
  }

  get closed(): boolean {
    return this.reason !== undefined;
  }

  get closeReason(): CloseReason | undefined {
    return this.reason;
  }

  get replayGap(): boolean {
    return this.gap;
  }

  get bufferedBytes(): number {
    return this.reason === undefined ? this.sink.bufferedBytes() + (this.live?.size ?? 0) : 0;
  }

  get signal(): AbortSignal {
    if (!this.abort) {
      this.abort = new AbortController();
      if (this.reason !== undefined) this.abort.abort(new SseClosedError(this.reason));
    }
    return this.abort.signal;
  }

  markReplayGap(): void {
    this.gap = true;
  }

  drained(): Promise<void> {
    if (this.reason !== undefined) return quietReject(new SseClosedError(this.reason));
    return this.afterWrite(!this.needDrain);
  }

  send(event: SseEvent): Promise<void> {
    if (this.reason !== undefined) return quietReject(new SseClosedError(this.reason));
    let bytes: Buffer;
    try {
      bytes = formatEvent(event);
    } catch (error) {
      return quietReject(error as Error);
    }
    return this.afterWrite(this.writeRaw(bytes));
  }

  sendComment(text?: string): Promise<void> {
    if (this.reason !== undefined) return quietReject(new SseClosedError(this.reason));
    let bytes: Buffer;
    try {
      bytes = formatComment(text);
    } catch (error) {
      return quietReject(error as Error);
    }
    return this.afterWrite(this.writeRaw(bytes));
  }

  setRetry(ms: number): Promise<void> {
    return this.send({ retry: ms });
  }

  async pipe(source: AsyncIterable<PipeItem> | Iterable<PipeItem>): Promise<void> {
    if (this.reason !== undefined) return;
    const iterator: AsyncIterator<PipeItem> | Iterator<PipeItem> =
      Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : (source as Iterable<PipeItem>)[Symbol.iterator]();
    const closed = this.closedPromise();
    let done = false;
    try {
      while (this.reason === undefined) {
        const next = await Promise.race([iterator.next(), closed]);
        if (typeof next === 'string' && this.reason !== undefined) break; // closed while waiting
        const result = next as IteratorResult<PipeItem>;
        if (result.done) {
          done = true;
          break;
        }
        const item = result.value;
        try {
          await this.send(typeof item === 'string' ? { data: item } : item);
        } catch (error) {
          if (error instanceof SseClosedError) break;
          throw error;
        }
      }
    } finally {
      // Stop the source: the client is gone (or sending failed), nobody reads what it makes.
      if (!done && typeof iterator.return === 'function') {
        void Promise.resolve(iterator.return()).catch(noop);
      }
    }
  }

  close(options?: { retryMs?: number }): void {
    if (this.reason !== undefined) return;
    if (options?.retryMs !== undefined) {
      try {
        this.writeRaw(formatEvent({ retry: options.retryMs }));
      } catch {
        // An invalid hint must not keep the connection open.
      }
    }
    if (this.reason !== undefined) return;
    this.finish('server');
    if (this.isCorked) this[kUncork]();
    this.sink.end();
  }

  closedPromise(): Promise<CloseReason> {
    if (this.reason !== undefined) return Promise.resolve(this.reason);
    return new Promise((resolve) => this.onClose(resolve));
  }

  onClose(listener: CloseListener): void {
    if (this.reason !== undefined) {
      listener(this.reason, this);
      return;
    }
    // Exact-size arrays: push() on an empty array reserves 17 slots, about 150 bytes for each
    // open stream, most of which hold two listeners (hub and handler).
    const list = this.listeners;
    if (list === undefined) {
      this.listeners = [listener];
      return;
    }
    const next = new Array<CloseListener>(list.length + 1);
    for (let i = 0; i < list.length; i++) next[i] = list[i]!;
    next[list.length] = listener;
    this.listeners = next;
  }

  offClose(listener: CloseListener): void {
    if (!this.listeners) return;
    const i = this.listeners.indexOf(listener);
    if (i !== -1) this.listeners.splice(i, 1);
  }

  writeEncoded(bytes: Uint8Array, id?: string, ahead = false): boolean {
    if (this.reason !== undefined) return false;
    if (ahead) {
      this.writeRaw(bytes);
      return this.reason === undefined;
    }
    const live = this.live;
    if (live) {
      if (live.push(bytes, id, this.maxBufferedBytes)) return true;
      this.fail('slow');
      return false;
    }
    this.stamp = defaultCoalescer.beforeWrite(this, this.stamp);
    this.writeRaw(bytes);
    return this.reason === undefined;
  }

  /** Holds writes for the coalescer. */
  [kCork](): void {
    this.isCorked = true;
    this.sink.cork();
  }

  /** Ends a cork started by the coalescer (or by nothing: then it does nothing). */
  [kUncork](): void {
    if (!this.isCorked) return;
    this.isCorked = false;
    this.sink.uncork();
    if (this.reason === undefined) this.sink.flush();
  }

  hold(): void {
    if (this.reason === undefined && !this.live) this.live = new LiveQueue();
  }

  release(skipIds?: ReadonlySet<string>): void {
    const live = this.live;
    this.live = undefined;
    if (!live || this.reason !== undefined) return;
    live.flush((bytes) => {
      this.writeRaw(bytes);
      return this.reason === undefined;
    }, skipIds);
    if (this.reason === undefined) this.sink.flush();
  }

  /** Called by the shared heartbeat timer. */
  [kHeartbeat](): void {
    if (this.wrote) {
      this.wrote = false;
      return;
    }
    this.writeRaw(HEARTBEAT);
    if (!this.isCorked) this.sink.flush();
    this.wrote = false;
  }

  /** Writes bytes, enforcing the slow-client limit. Returns the transport's backpressure bit. */
  private writeRaw(bytes: Uint8Array): boolean {
    if (this.reason !== undefined) return false;
    const size = bytes.length;
    const overhead = this.sink.writeOverhead;
    // The bound only ever over-counts (the transport drains in between), so while it stays
    // within the limit the exact test below cannot fail, and reading the size can be skipped.
    // A periodic exact read keeps it honest should something else write to the response.
    if (overhead === undefined || this.bufferBound + size > this.maxBufferedBytes || ++this.unchecked >= 64) {
      const buffered = this.sink.bufferedBytes();
      // Close rather than buffer without bound. An event larger than the limit still goes to a
      // client that has read everything before it, so memory stays under limit + one event.
      if (buffered > 0 && buffered + size > this.maxBufferedBytes) {
        this.fail('slow');
        return false;
      }
      this.bufferBound = buffered;
      this.unchecked = 0;
    }
    this.bufferBound += size + (overhead ?? 0);
    this.wrote = true;
    const ok = this.sink.write(bytes);
    if (!ok) this.needDrain = true;
    if (!this.isCorked) this.sink.flush();
    return ok;
  }

  private afterWrite(ok: boolean): Promise<void> {
    if (this.reason !== undefined) return quietReject(new SseClosedError(this.reason));
    if (ok) return RESOLVED;
    if (!this.drainWait) {
      let resolve!: () => void;
      let reject!: (e: Error) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      promise.catch(noop);
      this.drainWait = { promise, resolve, reject };
    }
    return this.drainWait.promise;
  }

  private readonly onDrain = (): void => {
    this.needDrain = false;
    const wait = this.drainWait;
    this.drainWait = undefined;
    wait?.resolve();
  };

  private readonly onTransportClose = (error?: Error): void => {
    if (this.reason === undefined) this.finish(error ? 'error' : 'client');
  };

  /** Closes at once and drops buffered bytes (slow client, transport error). */
  private fail(reason: CloseReason): void {
    if (this.reason !== undefined) return;
    this.finish(reason);
    this.sink.destroy();
  }

  /** Releases everything the connection holds and tells the listeners, exactly once. */
  private finish(reason: CloseReason): void {
    this.reason = reason;
    this.live = undefined;
    if (this.heartbeatMs > 0) leaveHeartbeat(this, this.heartbeatMs);
    const wait = this.drainWait;
    this.drainWait = undefined;
    wait?.reject(new SseClosedError(reason));
    this.abort?.abort(new SseClosedError(reason));
    const listeners = this.listeners;
    this.listeners = undefined;
    if (listeners) {
      for (const listener of listeners) {
        try {
          listener(reason, this);
        } catch (error) {
          // A failing listener must not keep the others from releasing their resources.
          queueMicrotask(() => {
            throw error;
          });
        }
      }
    }
  }
}

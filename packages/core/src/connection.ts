/**
 * One open event stream: headers, heartbeat, backpressure, slow-client policy and close.
 */
import { defaultCoalescer, joinWindow, kCork, kUncork, kWindowEnd, kWindowSlot, leaveWindow, NO_STAMP, type Corkable, type WindowMember } from './coalesce.js';
import type { SseEvent } from './event.js';
import type { AnyEvents, EventMap, EventOf, PipeItemOf } from './event-map.js';
import { SseClosedError, type CloseReason } from './errors.js';
import { formatComment, formatEvent } from './format.js';
import { kHandoff, LiveQueue, type Handoff } from './handoff.js';
import { streamHeaders } from './headers.js';
import { joinHeartbeat, kHeartbeat, leaveHeartbeat, type HeartbeatMember } from './heartbeat.js';
import { resolveConnectionOptions, type ConnectionOptions } from './options.js';
import { PendingWrites } from './pending.js';
import type { EventValidator } from './validation.js';
import type { SseSink } from './sink.js';

/** Called once when a connection closes, with the reason and the connection. */
export type CloseListener = (reason: CloseReason, connection: Connection) => void;

/** Options of {@link Connection.close}. */
export interface CloseOptions {
  /** A last `retry:` hint (milliseconds) written before the end. Default: none. */
  retryMs?: number;
  /** Longest wait, in milliseconds, for the last bytes to leave before the client is dropped. Default: no limit. */
  graceMs?: number;
}

/** An item {@link Connection.pipe} accepts: an event, or a string sent as a `message`'s data. */
export type PipeItem = SseEvent | string;

/**
 * An open event stream to one client, untyped: `send` and `pipe` take any event. Implemented by
 * {@link SseConnection}; a custom {@link Provider} returns an `SseConnection` or an object
 * built on one (see {@link Provider}).
 */
export interface UntypedConnection {
  /** True once the connection has closed, whoever closed it. */
  readonly closed: boolean;
  /** Why the connection closed; `undefined` while open. */
  readonly closeReason: CloseReason | undefined;
  /** Aborts when the connection closes: pass it to work that should stop with the client. */
  readonly signal: AbortSignal;
  /**
   * The id the client resumes from (`Last-Event-ID` header or `lastEventId` query), if any.
   * `undefined` for a stream opened with `replay: false`.
   */
  readonly lastEventId: string | undefined;
  /**
   * True when the client asked to resume after an id the replayer no longer (or never) had:
   * events may have been missed, and the app should send fresh state.
   */
  readonly replayGap: boolean;
  /** Bytes written but not yet handed to the kernel. */
  readonly bufferedBytes: number;
  /**
   * Sends one event. Resolves `true` once the bytes are accepted (after `drain` under
   * backpressure), and `false` when the connection is closed, or closes while waiting for
   * `drain`: a client leaving is expected, so it never rejects for that.
   * @throws {SseFormatError} (as a rejection) for an event that cannot be encoded; nothing is
   *   written. Such a rejection does not count as unhandled when the promise is dropped.
   * @throws {SseValidationError} (as a rejection) when the `schemas` option rejects the data;
   *   nothing is written.
   */
  send(event: SseEvent): Promise<boolean>;
  /** Sends a comment; clients ignore it. Resolves and rejects like {@link Connection.send}. */
  sendComment(text?: string): Promise<boolean>;
  /**
   * Tells the client how long to wait before reconnecting, in milliseconds. Resolves and
   * rejects like {@link Connection.send} (a `ms` that is not a non-negative integer rejects).
   */
  setRetry(ms: number): Promise<boolean>;
  /**
   * Sends every item of an (async) iterable with backpressure; a string is sent as a message's
   * data. Resolves `true` once the source has ended and every item was accepted, and `false`
   * when the connection closed first; then the iterator's `return()` is called so the source
   * (a database cursor, an LLM stream) can stop.
   * @throws (as a rejection) what the source throws, or {@link SseFormatError} for an item that
   *   cannot be encoded (or {@link SseValidationError} for one its schema rejects); the
   *   source is stopped too.
   */
  pipe(source: AsyncIterable<PipeItem> | Iterable<PipeItem>): Promise<boolean>;
  /**
   * Ends the stream (idempotent; `closed` is true at once). `retryMs` sends a last `retry:`
   * hint first, for example to spread reconnects after a deploy. Resolves once the last bytes
   * have been handed to the network, or the client is gone; with `graceMs`, a client that has
   * not taken them by then (it stopped reading) is dropped. Never rejects, so it need not be
   * awaited.
   */
  close(options?: CloseOptions): Promise<void>;
  /** Resolves with the close reason once the connection has closed. */
  closedPromise(): Promise<CloseReason>;
  /** Calls `listener` once on close (at once if already closed). */
  onClose(listener: CloseListener): void;
  /** Removes a listener added with {@link Connection.onClose}. */
  offClose(listener: CloseListener): void;
  /**
   * The broadcaster write path: writes bytes that are already a complete encoded event (from
   * `formatEvent`, or a broadcaster's encode-once), so that an event is encoded once for all
   * its receivers. `id` is the event's id, which the replay handoff uses to drop live events the
   * replay already sent. Returns `false` when nothing was written (closed, or closed now because
   * the client is too slow).
   *
   * `conflateKey` marks a last-value event: while the connection holds events back (its client
   * is behind, or a coalescing window is open), it replaces the held event of the same key
   * instead of queueing behind it. The replaced event is never written to this client.
   */
  writeEncoded(bytes: Uint8Array, id?: string, conflateKey?: string): boolean;
}

/**
 * A connection whose `send` and `pipe` accept only the events of the event map `E`
 * (`{ event: K, data: E[K] }` for a name `K` of `E`); otherwise an {@link UntypedConnection}.
 */
export type TypedConnection<E extends EventMap> = Omit<UntypedConnection, 'send' | 'pipe'> & {
  /** {@link UntypedConnection.send}, for the events of `E` only. */
  send(event: EventOf<E>): Promise<boolean>;
  /** {@link UntypedConnection.pipe}, for the events of `E` (and strings, when `message` data is a string). */
  pipe(source: AsyncIterable<PipeItemOf<E>> | Iterable<PipeItemOf<E>>): Promise<boolean>;
};

/**
 * An open event stream to one client, as an application holds it: an
 * {@link UntypedConnection}, or with an event map `E` a {@link TypedConnection}. A typed
 * connection goes wherever a connection is taken (`register`, `subscribe`).
 */
export type Connection<E extends EventMap = AnyEvents> = string extends keyof E ? UntypedConnection : TypedConnection<E>;

const HEARTBEAT = formatComment('');
const ACCEPTED: Promise<boolean> = Promise.resolve(true);
const CLOSED: Promise<boolean> = Promise.resolve(false);
const noop = (): void => {};

/** A rejected promise that does not crash the process when the caller does not await it. */
function quietReject<T>(error: unknown): Promise<T> {
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
export class SseConnection implements UntypedConnection, HeartbeatMember, Corkable, WindowMember {
  readonly lastEventId: string | undefined;
  private readonly sink: SseSink;
  private readonly heartbeatMs: number;
  private readonly maxBufferedBytes: number;
  private readonly coalesceMs: number;
  /** Checks each sent event against the `schemas` option; `undefined` without schemas. */
  private readonly validate: EventValidator | undefined;
  private reason: CloseReason | undefined;
  private gap = false;
  private wroteSinceHeartbeat = false;
  private isCorked = false;
  /** The sink writes through ({@link SseSink.writesThrough}): every write of a tick is corked to its end. */
  private corkFirst = false;
  /** The coalescer's stamp of this connection's last broadcast write. */
  private stamp = NO_STAMP;
  /** The last write returned false and no `drain` came since. */
  private needDrain = false;
  /**
   * Events held back (during a coalescing window, or while the client is behind and
   * conflatable events arrive), written together in one write. Made on first use.
   */
  private held: PendingWrites | undefined;
  /** True while this connection waits in a coalescing window. */
  private inWindow = false;
  /** The coalescing window's bookkeeping: this connection's place in its list. */
  [kWindowSlot] = 0;
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
  /** Resolves `true` on the next `drain`, `false` on close. */
  private drainWait: { promise: Promise<boolean>; resolve: (accepted: boolean) => void } | undefined;

  /**
   * Opens the stream on `sink`: sends the headers, the `retry:` hint when set, and joins the
   * shared heartbeat.
   * @throws {SseOptionsError} for invalid options.
   */
  constructor(sink: SseSink, options?: ConnectionOptions) {
    const resolved = resolveConnectionOptions(options);
    this.sink = sink;
    this.heartbeatMs = resolved.heartbeatMs;
    this.maxBufferedBytes = resolved.maxBufferedBytes;
    this.coalesceMs = resolved.coalesceMs;
    this.validate = resolved.validate;
    this.lastEventId = options?.lastEventId;

    if (sink.destroyed) {
      this.reason = 'client';
      return;
    }
    sink.bind(this.onDrain, this.onTransportClose);
    sink.open(streamHeaders(sink.http2, resolved.headers));
    this.corkFirst = sink.writesThrough === true;
    if (resolved.retryMs !== undefined) this.writeRaw(formatEvent({ retry: resolved.retryMs }));
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
    return this.reason === undefined ? this.sink.bufferedBytes() + (this.live?.size ?? 0) + (this.held?.size ?? 0) : 0;
  }

  get signal(): AbortSignal {
    if (!this.abort) {
      this.abort = new AbortController();
      if (this.reason !== undefined) this.abort.abort(new SseClosedError(this.reason));
    }
    return this.abort.signal;
  }

  send(event: SseEvent): Promise<boolean> {
    let bytes: Buffer;
    try {
      if (this.validate !== undefined) this.validate(event);
      bytes = formatEvent(event);
    } catch (error) {
      return quietReject(error);
    }
    if (this.reason !== undefined) return CLOSED;
    return this.afterWrite(this.writeOwn(bytes));
  }

  sendComment(text?: string): Promise<boolean> {
    let bytes: Buffer;
    try {
      bytes = formatComment(text);
    } catch (error) {
      return quietReject(error);
    }
    if (this.reason !== undefined) return CLOSED;
    return this.afterWrite(this.writeOwn(bytes));
  }

  setRetry(ms: number): Promise<boolean> {
    return this.send({ retry: ms });
  }

  async pipe(source: AsyncIterable<PipeItem> | Iterable<PipeItem>): Promise<boolean> {
    if (this.reason !== undefined) return false;
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
        if (!(await this.send(typeof item === 'string' ? { data: item } : item))) break;
      }
    } finally {
      // Stop the source: the client is gone (or sending failed), nobody reads what it makes.
      if (!done && typeof iterator.return === 'function') {
        void Promise.resolve(iterator.return()).catch(noop);
      }
    }
    return done;
  }

  close(options?: CloseOptions): Promise<void> {
    if (this.reason === undefined) {
      // What is held leaves first, ahead of the hint and the end.
      if (this.held !== undefined && !this.held.empty) this.writeHeld();
      if (options?.retryMs !== undefined) {
        try {
          this.writeRaw(formatEvent({ retry: options.retryMs }));
        } catch {
          // An invalid hint must not keep the connection open.
        }
      }
      if (this.reason === undefined) {
        this.finish('server');
        if (this.isCorked) this[kUncork]();
        this.sink.end();
      }
    }
    return this.sink.finished(options?.graceMs);
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

  writeEncoded(bytes: Uint8Array, id?: string, conflateKey?: string): boolean {
    if (this.reason !== undefined) return false;
    const live = this.live;
    if (live) {
      if (live.push(bytes, id, this.maxBufferedBytes)) return true;
      this.fail('slow');
      return false;
    }
    // Hold the event when a window is on, when events are held already (they keep their
    // order), or when it is conflatable and the client is behind: then a newer value of its key
    // can still replace it.
    if (this.coalesceMs !== 0 || (this.held !== undefined && !this.held.empty) || (conflateKey !== undefined && this.needDrain)) {
      return this.hold(bytes, conflateKey);
    }
    if (!this.corkFirst) this.stamp = defaultCoalescer.beforeWrite(this, this.stamp);
    this.writeRaw(bytes);
    return this.reason === undefined;
  }

  /**
   * The replay handoff's view of this connection, for core's `withReplay` only (the key is not
   * exported). Made on each read: only a replaying connection asks for it.
   */
  get [kHandoff](): Handoff {
    return {
      queueLive: () => {
        if (this.reason === undefined && !this.live) this.live = new LiveQueue();
      },
      writeAhead: (bytes) => {
        this.writeRaw(bytes);
        return this.reason === undefined;
      },
      drained: () => (this.reason !== undefined ? CLOSED : this.afterWrite(!this.needDrain)),
      markGap: () => {
        this.gap = true;
      },
      flushLive: (skipIds) => {
        const live = this.live;
        this.live = undefined;
        if (!live || this.reason !== undefined) return;
        live.flush((bytes) => {
          this.writeRaw(bytes);
          return this.reason === undefined;
        }, skipIds);
        if (this.reason === undefined) this.sink.flush();
      },
    };
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

  /** Called by the shared window timer: what was held in the window leaves, unless the client is behind. */
  [kWindowEnd](): void {
    this.inWindow = false;
    if (this.reason === undefined && !this.needDrain && this.held !== undefined && !this.held.empty) this.writeHeld();
  }

  /** Called by the shared heartbeat timer. */
  [kHeartbeat](): void {
    if (this.wroteSinceHeartbeat) {
      this.wroteSinceHeartbeat = false;
      return;
    }
    this.writeRaw(HEARTBEAT);
    if (!this.isCorked) this.sink.flush();
    this.wroteSinceHeartbeat = false;
  }

  /** Writes bytes, enforcing the slow-client limit. Returns the transport's backpressure bit. */
  private writeRaw(bytes: Uint8Array, joinTick = true): boolean {
    if (this.reason !== undefined) return false;
    // Through a sink that writes through, what is written in one tick leaves at its end, in one
    // write. A window's end writes once per connection already (`joinTick` false).
    if (this.corkFirst && joinTick && !this.isCorked) this.stamp = defaultCoalescer.beforeWrite(this, this.stamp, true);
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
    this.wroteSinceHeartbeat = true;
    const ok = this.sink.write(bytes);
    if (!ok) this.needDrain = true;
    if (!this.isCorked) this.sink.flush();
    return ok;
  }

  /**
   * A write of the application's own (`send`, `sendComment`): held like a broadcast when a
   * window is on or events are held, so that it keeps its place among them.
   */
  private writeOwn(bytes: Uint8Array): boolean {
    if (this.coalesceMs === 0 && (this.held === undefined || this.held.empty)) return this.writeRaw(bytes);
    return this.hold(bytes, undefined) && !this.needDrain;
  }

  /**
   * Holds an event until the window ends or the transport drains, enforcing the slow-client
   * limit over what is held plus what the transport buffers. `false`: closed as slow.
   */
  private hold(bytes: Uint8Array, key: string | undefined): boolean {
    const held = (this.held ??= new PendingWrites());
    const size = bytes.length;
    const freed = key === undefined ? 0 : held.sizeOf(key);
    if (this.bufferBound + held.size - freed + size > this.maxBufferedBytes) {
      const before = this.sink.bufferedBytes() + held.size - freed;
      this.bufferBound = before - held.size + freed;
      this.unchecked = 0;
      // As for direct writes: an event larger than the limit still goes to a client that has
      // taken everything before it.
      if (before > 0 && before + size > this.maxBufferedBytes) {
        this.fail('slow');
        return false;
      }
    }
    held.push(bytes, key);
    this.wroteSinceHeartbeat = true;
    if (this.coalesceMs !== 0 && !this.inWindow) {
      this.inWindow = true;
      joinWindow(this, this.coalesceMs);
    }
    return true;
  }

  /** Writes everything held, in one write. */
  private writeHeld(): void {
    this.writeRaw(this.held!.take(), false);
  }

  /** What a write resolves with: at once, or once the transport drains (or closes). */
  private afterWrite(ok: boolean): Promise<boolean> {
    if (this.reason !== undefined) return CLOSED;
    if (ok) return ACCEPTED;
    if (!this.drainWait) {
      let resolve!: (accepted: boolean) => void;
      const promise = new Promise<boolean>((res) => {
        resolve = res;
      });
      this.drainWait = { promise, resolve };
    }
    return this.drainWait.promise;
  }

  private readonly onDrain = (): void => {
    this.needDrain = false;
    // Events held while the client was behind leave now, unless a window is still open.
    if (!this.inWindow && this.held !== undefined && !this.held.empty && this.reason === undefined) this.writeHeld();
    if (this.needDrain) return; // behind again: the waiting writers wait for the next drain
    const wait = this.drainWait;
    this.drainWait = undefined;
    wait?.resolve(true);
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
    this.held = undefined;
    if (this.inWindow) {
      this.inWindow = false;
      leaveWindow(this, this.coalesceMs);
    }
    if (this.heartbeatMs > 0) leaveHeartbeat(this, this.heartbeatMs);
    const wait = this.drainWait;
    this.drainWait = undefined;
    wait?.resolve(false);
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

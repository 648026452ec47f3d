/**
 * The Web-Streams transport: an event stream as the `ReadableStream` body of a Fetch `Response`,
 * for every runtime whose handlers take a `Request` and return a `Response` (Node through
 * `@hono/node-server` or Next.js, Bun, Deno, Cloudflare Workers).
 *
 * @see https://streams.spec.whatwg.org/#rs-default-controller-class
 */
import { formatComment, type SseHeaders, type SseSink } from '@ssekit/core';

/** Bytes the stream itself queues for the runtime to read; a write past it reports backpressure. */
export const STREAM_HIGH_WATER_MARK = 64 * 1024;

/**
 * Headers a Fetch handler must never set: the runtime frames the body itself, and
 * connection-specific headers are forbidden on HTTP/2 and HTTP/3 (a runtime or proxy in front
 * may speak either), where they make clients fail the stream.
 * @see https://www.rfc-editor.org/rfc/rfc9113#section-8.2.2
 */
const FORBIDDEN = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection']);

/** Written at open: Bun holds the headers back until the first body chunk, so one goes at once. */
const OPENING = formatComment('');

const byteSize = (chunk: Uint8Array): number => chunk.byteLength;

/** What {@link WebStreamSink.open} reports to whoever builds the `Response`. */
export type SinkOpened = (body: ReadableStream<Uint8Array>, headers: SseHeaders) => void;

/**
 * An {@link SseSink} over a `ReadableStream<Uint8Array>`. The runtime reads the stream to send
 * the body; the connection writes into it.
 *
 * - **Backpressure is pull-based.** While the stream's queue has room (`desiredSize > 0`, up
 *   to `STREAM_HIGH_WATER_MARK` (64 KiB)), a write goes straight into it, as a hand-written stream
 *   would, and the stream's `pull()` stays pending so it does not call back per write. Past
 *   that, writes return `false` and wait in the sink's own queue; each `pull()` (the runtime
 *   read and the stream has room again) moves them on, and the one that finds nothing left is
 *   the drain.
 * - **Buffered bytes** are what waits for the runtime to read, in both queues, so
 *   `maxBufferedBytes` bounds the memory a client that stopped reading can hold.
 * - **A slow client is cut off cheaply.** Closing it drops the sink's queue at once and ends
 *   the body after what the stream holds (at most `STREAM_HIGH_WATER_MARK` (64 KiB) plus one
 *   event). The body ends rather than fails, because Deno and `@hono/node-server` log a failed
 *   body as a server error; the client reconnects with `Last-Event-ID` either way.
 * - **Close** comes from the request's `signal` (the runtime aborts it when the client leaves),
 *   the stream's `cancel()` (the runtime stops reading), or a failed enqueue, whichever comes
 *   first; the connection hears of it once.
 */
export class WebStreamSink implements SseSink {
  /**
   * Always true: a Fetch response must not carry connection-specific headers, whatever protocol
   * the runtime speaks to the client, so the connection never adds `Connection: keep-alive`.
   */
  readonly http2 = true;
  /** The queues count exactly the bytes written: no framing is added per write. */
  readonly writeOverhead = 0;
  /** The response body. */
  readonly stream: ReadableStream<Uint8Array>;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private readonly signal: AbortSignal | undefined;
  private readonly opened: SinkOpened;
  private onDrain: (() => void) | undefined;
  private onClose: ((error?: Error) => void) | undefined;
  /** Chunks written while the stream's queue was full, oldest first. */
  private backlog: Uint8Array[] = [];
  private backlogBytes = 0;
  /** Settles the pending `pull()`; set while the stream's queue has room. */
  private releasePull: (() => void) | undefined;
  /** A write returned false; the pull that finds the backlog empty reports the drain. */
  private full = false;
  private gone = false;
  /** Ended politely: the body closes once the runtime has read what the stream holds. */
  private ending = false;
  /** The runtime has read everything (or the stream is gone): {@link WebStreamSink.finished}. */
  private settled = false;
  private onSettled: (() => void)[] | undefined;

  /**
   * @param signal - the request's signal: its abort means the client has gone.
   * @param opened - called by {@link WebStreamSink.open} with the body and headers to respond with.
   */
  constructor(signal: AbortSignal | undefined, opened: SinkOpened) {
    this.signal = signal;
    this.opened = opened;
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.controller = controller;
        },
        pull: () => this.pull(),
        cancel: () => {
          this.close();
          this.settle();
        },
      },
      { highWaterMark: STREAM_HIGH_WATER_MARK, size: byteSize },
    );
  }

  get destroyed(): boolean {
    return this.gone || this.signal?.aborted === true;
  }

  open(headers: SseHeaders): void {
    const allowed: SseHeaders = {};
    for (const name of Object.keys(headers)) {
      if (!FORBIDDEN.has(name.toLowerCase())) allowed[name] = headers[name]!;
    }
    this.write(OPENING);
    this.opened(this.stream, allowed);
  }

  write(chunk: Uint8Array): boolean {
    if (this.gone) return false;
    if (!this.full) {
      if (!this.enqueue(chunk)) return false;
      if ((this.controller.desiredSize ?? 0) > 0) return true;
    } else {
      this.backlog.push(chunk);
      this.backlogBytes += chunk.byteLength;
    }
    // Full: let the pending pull settle, so the stream calls pull() again once a read makes room.
    this.full = true;
    const release = this.releasePull;
    this.releasePull = undefined;
    release?.();
    return false;
  }

  bufferedBytes(): number {
    if (this.gone) return 0;
    const room = this.controller.desiredSize ?? STREAM_HIGH_WATER_MARK;
    return this.backlogBytes + STREAM_HIGH_WATER_MARK - room;
  }

  /** Nothing to do: the runtime takes each chunk as soon as it reads. */
  flush(): void {}

  /** Nothing to do: enqueued chunks are read in order anyway, and a write is no syscall. */
  cork(): void {}

  uncork(): void {}

  end(): void {
    if (this.gone) return;
    // What is queued is still delivered; the body ends after it.
    for (const chunk of this.backlog) if (!this.enqueue(chunk)) return;
    this.ending = true;
    this.close();
    this.endWhenRead();
  }

  destroy(): void {
    if (this.gone && !this.ending) return;
    this.endBody();
    this.close();
    this.settle();
  }

  finished(graceMs?: number): Promise<void> {
    if (this.settled) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer =
        graceMs === undefined
          ? undefined
          : setTimeout(() => {
              // The client stopped reading: end the body after what it holds and stop waiting.
              this.endBody();
              this.settle();
            }, graceMs);
      (this.onSettled ??= []).push(() => {
        if (timer !== undefined) clearTimeout(timer);
        resolve();
      });
    });
  }

  bind(onDrain: () => void, onClose: (error?: Error) => void): void {
    this.onDrain = onDrain;
    this.onClose = onClose;
    const signal = this.signal;
    if (signal) {
      if (signal.aborted) queueMicrotask(this.aborted);
      else signal.addEventListener('abort', this.aborted, { once: true });
    }
  }

  /** The stream has room (`desiredSize > 0`): move the backlog on, or wait for writes. */
  private pull(): Promise<void> | undefined {
    if (this.ending) {
      this.endWhenRead();
      return undefined;
    }
    if (this.gone) return undefined;
    if (this.backlogBytes > 0) {
      const backlog = this.backlog;
      let moved = 0;
      while (moved < backlog.length && (this.controller.desiredSize ?? 0) > 0) {
        const chunk = backlog[moved++]!;
        this.backlogBytes -= chunk.byteLength;
        if (!this.enqueue(chunk)) return undefined;
      }
      this.backlog = moved === backlog.length ? [] : backlog.slice(moved);
      // Still full: the stream calls pull() again after the next read that makes room.
      if ((this.controller.desiredSize ?? 0) <= 0) return undefined;
    }
    if (this.full) {
      this.full = false;
      this.onDrain?.();
      if (this.gone || this.full) return undefined;
    }
    return new Promise<void>((resolve) => {
      this.releasePull = resolve;
    });
  }

  /** Hands a chunk to the stream; false (and closed) when the runtime no longer takes any. */
  private enqueue(chunk: Uint8Array): boolean {
    try {
      this.controller.enqueue(chunk);
      return true;
    } catch {
      // The runtime closed or errored the stream under us: the client is gone.
      this.close();
      this.settle();
      return false;
    }
  }

  /** After {@link WebStreamSink.end}: closes the body once the stream's queue is read. */
  private endWhenRead(): void {
    if (this.settled) return;
    const room = this.controller.desiredSize;
    // Not read yet: the stream calls pull() again after the next read.
    if (room !== null && room < STREAM_HIGH_WATER_MARK) return;
    this.endBody();
    this.settle();
  }

  private settle(): void {
    if (this.settled) return;
    this.settled = true;
    const waiters = this.onSettled;
    this.onSettled = undefined;
    if (waiters) for (const wake of waiters) wake();
  }

  /** Ends the body after what the stream already holds. */
  private endBody(): void {
    try {
      this.controller.close();
    } catch {
      // Already closed, cancelled or errored by the runtime.
    }
  }

  /**
   * The client left. The stream is not errored here: the runtime cancels it as it tears the
   * response down, and an errored body is logged as a failure by Deno and `@hono/node-server`.
   */
  private readonly aborted = (): void => {
    this.endBody();
    this.close();
    this.settle();
  };

  /** The transport is gone: tell the connection once and let go of everything. */
  private close(): void {
    if (this.gone) return;
    this.gone = true;
    this.backlog = [];
    this.backlogBytes = 0;
    this.signal?.removeEventListener('abort', this.aborted);
    const release = this.releasePull;
    this.releasePull = undefined;
    release?.();
    const onClose = this.onClose;
    this.onClose = undefined;
    this.onDrain = undefined;
    onClose?.();
  }
}

/**
 * The Web-Streams transport: an event stream as the `ReadableStream` body of a Fetch `Response`,
 * for every runtime whose handlers take a `Request` and return a `Response` (Node through
 * `@hono/node-server` or Next.js, Bun, Deno, Cloudflare Workers).
 *
 * @see https://streams.spec.whatwg.org/#rs-default-controller-class
 */
import { formatComment, type SseHeaders, type SseSink } from '@ssekit/core';

/** Bytes queued in the stream before a write reports backpressure. */
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
 * - **Backpressure is pull-based.** A write returns `false` once the stream's queue reaches
 *   {@link STREAM_HIGH_WATER_MARK} (`desiredSize <= 0`); the next `pull()` (the runtime read a
 *   chunk and wants more) is the drain. The `pull` promise stays pending while the queue has
 *   room, so the stream does not call back after every write.
 * - **Buffered bytes** are what sits in the queue, so `maxBufferedBytes` bounds the memory a
 *   client that stopped reading can hold.
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
  /** The queue counts exactly the bytes enqueued: no framing is added per write. */
  readonly writeOverhead = 0;
  /** The response body. */
  readonly stream: ReadableStream<Uint8Array>;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private readonly signal: AbortSignal | undefined;
  private readonly opened: SinkOpened;
  private onDrain: (() => void) | undefined;
  private onClose: ((error?: Error) => void) | undefined;
  /** Resolves the pending `pull()`; set while the stream waits for the queue to fill. */
  private releasePull: (() => void) | undefined;
  /** A write saw a full queue; the next pull reports the drain. */
  private full = false;
  private gone = false;

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
        cancel: () => this.close(),
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
    try {
      this.controller.enqueue(chunk);
    } catch {
      // The runtime closed or errored the stream under us: the client is gone.
      this.close();
      return false;
    }
    if ((this.controller.desiredSize ?? 0) > 0) return true;
    this.full = true;
    // Let the pending pull settle, so the stream calls pull() again once a read makes room.
    const release = this.releasePull;
    this.releasePull = undefined;
    release?.();
    return false;
  }

  bufferedBytes(): number {
    if (this.gone) return 0;
    const room = this.controller.desiredSize;
    return room === null ? 0 : Math.max(0, STREAM_HIGH_WATER_MARK - room);
  }

  /** Nothing to do: the runtime sends each chunk as soon as it reads it. */
  flush(): void {}

  /** Nothing to do: enqueued chunks are read in order anyway, and a write is no syscall. */
  cork(): void {}

  uncork(): void {}

  end(): void {
    if (this.gone) return;
    try {
      // Queued chunks are still delivered; the body ends after them.
      this.controller.close();
    } catch {
      // Already closed or errored by the runtime.
    }
    this.close();
  }

  destroy(): void {
    if (this.gone) return;
    try {
      // Drops the queue at once: a slow client's backlog is released now, not when it reads.
      this.controller.error(new Error('event stream closed'));
    } catch {
      // Already closed or errored by the runtime.
    }
    this.close();
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

  private pull(): Promise<void> | undefined {
    if (this.gone) return undefined;
    if (this.full) {
      this.full = false;
      this.onDrain?.();
      if (this.gone || this.full) return undefined;
    }
    return new Promise<void>((resolve) => {
      this.releasePull = resolve;
    });
  }

  /**
   * The client left. The stream is not errored here: the runtime cancels it (which drops the
   * queue) as it tears the response down, and an errored body is logged as a failure by Deno
   * and `@hono/node-server`.
   */
  private readonly aborted = (): void => {
    this.close();
  };

  /** The transport is gone: tell the connection once and let go of everything. */
  private close(): void {
    if (this.gone) return;
    this.gone = true;
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

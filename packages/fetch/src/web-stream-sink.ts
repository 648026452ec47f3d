/**
 * The Web-Streams transport: an event stream as the `ReadableStream` body of a Fetch `Response`,
 * for every runtime whose handlers take a `Request` and return a `Response` (Node through
 * `@hono/node-server` or Next.js, Bun, Deno, Cloudflare Workers).
 *
 * @see https://streams.spec.whatwg.org/#rs-default-controller-class
 */
import { formatComment, type SseHeaders, type SseSink } from '@ssekit/core';

/** Bytes queued for the runtime to read before a write reports backpressure. */
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

/** One chunk of everything queued, so a runtime that fell behind catches up in one write. */
function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/** What {@link WebStreamSink.open} reports to whoever builds the `Response`. */
export type SinkOpened = (body: ReadableStream<Uint8Array>, headers: SseHeaders) => void;

/**
 * An {@link SseSink} over a `ReadableStream<Uint8Array>`. The runtime reads the stream to send
 * the body; the connection writes into it.
 *
 * - **Pull-based.** The stream has a high-water mark of 0, so the runtime's read is what calls
 *   `pull()`. A write while a read is waiting goes straight to it; otherwise it waits in the
 *   sink's queue, and the next `pull()` hands over everything queued as one chunk. A write
 *   returns `false` once {@link STREAM_HIGH_WATER_MARK} bytes wait; the `pull()` that empties
 *   the queue is the drain.
 * - **Buffered bytes** are what waits for the runtime to read (the sink's queue plus the
 *   stream's), so `maxBufferedBytes` bounds the memory a client that stopped reading can hold.
 * - **A slow client's queue is dropped**, and its body ended, the moment it is closed: the
 *   memory goes at once, and a body that ends (rather than fails) is not logged as an error by
 *   Deno or `@hono/node-server`. The client reconnects with `Last-Event-ID` either way.
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
  /** The queue counts exactly the bytes written: no framing is added per write. */
  readonly writeOverhead = 0;
  /** The response body. */
  readonly stream: ReadableStream<Uint8Array>;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private readonly signal: AbortSignal | undefined;
  private readonly opened: SinkOpened;
  private onDrain: (() => void) | undefined;
  private onClose: ((error?: Error) => void) | undefined;
  /** Chunks written while no read was waiting. */
  private queue: Uint8Array[] = [];
  private queued = 0;
  /** Settles the pending `pull()`: set while the runtime waits for a chunk. */
  private releasePull: (() => void) | undefined;
  /** A write saw a full queue; the pull that empties it reports the drain. */
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
      { highWaterMark: 0, size: byteSize },
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
    const release = this.releasePull;
    if (release !== undefined) {
      // The runtime is waiting for this very chunk.
      this.releasePull = undefined;
      if (!this.enqueue(chunk)) return false;
      release();
      return true;
    }
    this.queue.push(chunk);
    this.queued += chunk.byteLength;
    if (this.queued < STREAM_HIGH_WATER_MARK) return true;
    this.full = true;
    return false;
  }

  bufferedBytes(): number {
    if (this.gone) return 0;
    // With a high-water mark of 0, the stream's own queue shows as a negative desiredSize.
    const room = this.controller.desiredSize ?? 0;
    return this.queued + (room < 0 ? -room : 0);
  }

  /** Nothing to do: the runtime takes each chunk as soon as it reads. */
  flush(): void {}

  /** Nothing to do: writes between two reads already leave as one chunk. */
  cork(): void {}

  uncork(): void {}

  end(): void {
    if (this.gone) return;
    // What is queued is still delivered; the body ends after it.
    if (this.queued > 0 && !this.enqueue(concat(this.queue, this.queued))) return;
    this.endBody();
    this.close();
  }

  destroy(): void {
    if (this.gone) return;
    this.endBody();
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
    if (this.queued > 0) {
      const chunk = concat(this.queue, this.queued);
      this.queue = [];
      this.queued = 0;
      if (!this.enqueue(chunk)) return undefined;
      if (this.full) {
        this.full = false;
        this.onDrain?.();
      }
      return undefined;
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
      return false;
    }
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
    if (this.gone) return;
    this.endBody();
    this.close();
  };

  /** The transport is gone: tell the connection once and let go of everything. */
  private close(): void {
    if (this.gone) return;
    this.gone = true;
    this.queue = [];
    this.queued = 0;
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

/**
 * The small contract between a connection and its transport. A connection never touches
 * `node:http` directly: it writes bytes to a sink and listens for drain and close. Node's
 * HTTP/1 and HTTP/2 responses are the first sinks ({@link nodeSink}); a Web-Streams sink for
 * fetch-style runtimes is one more implementation of this interface.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';

/** Response headers as name/value pairs. */
export type SseHeaders = Record<string, string>;

/** What a connection needs from its transport. */
export interface SseSink {
  /** True for HTTP/2, where connection-specific headers are forbidden. */
  readonly http2: boolean;
  /** True when the peer is already gone (the sink will not report a close on its own). */
  readonly destroyed: boolean;
  /** Sends the 200 status and headers right away. */
  open(headers: SseHeaders): void;
  /** Queues bytes; `false` means the transport buffer is over its high-water mark. */
  write(chunk: Uint8Array): boolean;
  /** Bytes accepted but not yet handed to the kernel. */
  bufferedBytes(): number;
  /**
   * The most that one {@link SseSink.write} can add to {@link SseSink.bufferedBytes} beyond the
   * chunk's own length (framing such as HTTP/1 chunk headers), when that is known. A connection
   * then keeps an upper bound of the buffered size and reads the exact size only when the bound
   * comes near its limit. Leave it undefined (the exact size is read before every write) when a
   * layer in between can grow the data by an unknown amount.
   */
  readonly writeOverhead?: number | undefined;
  /** Pushes bytes through intermediate layers (compression) when they buffer. */
  flush(): void;
  /** Holds writes until {@link SseSink.uncork}, so several events leave in one syscall. */
  cork(): void;
  uncork(): void;
  /** Ends the response politely. */
  end(): void;
  /** Drops the transport at once, releasing its buffers. */
  destroy(): void;
  /**
   * Subscribes the connection's callbacks. Called once. `onClose` fires exactly once when the
   * transport goes away for any reason (including after {@link SseSink.end}).
   */
  bind(onDrain: () => void, onClose: (error?: Error) => void): void;
}

/** A Node.js request: HTTP/1 or the HTTP/2 compatibility API. */
export type NodeRequest = IncomingMessage | Http2ServerRequest;
/** A Node.js response: HTTP/1 or the HTTP/2 compatibility API. */
export type NodeResponse = ServerResponse | Http2ServerResponse;

type Flushable = { flush?: () => void };

/** A sink over a Node.js `ServerResponse` or `Http2ServerResponse`. */
export function nodeSink(req: NodeRequest, res: NodeResponse): SseSink {
  return new NodeSink(req, res);
}

/**
 * {@link nodeSink}'s implementation. A class rather than an object of closures: one of these
 * exists per open stream, and prototype methods cost nothing per instance, where a literal with
 * eleven closures and a getter cost about 1.5 KB each (V8 keeps such a literal in dictionary
 * mode).
 */
class NodeSink implements SseSink {
  readonly http2: boolean;
  readonly writeOverhead: number | undefined;
  private readonly req: NodeRequest;
  private readonly res: NodeResponse;
  private readonly h1: ServerResponse | undefined;
  private readonly h2: Http2ServerResponse | undefined;
  private readonly hasFlush: boolean;
  private errored: Error | undefined;
  private onDrain: (() => void) | undefined;
  private onClose: ((error?: Error) => void) | undefined;
  private drainBound = false;
  /**
   * What `cork()`/`uncork()` act on, fixed at open: the HTTP/1 socket (which is all that
   * `res.cork()` corks) or the HTTP/2 stream. Calling it directly skips a lookup on the response
   * per call, which Express makes slow (it re-prototypes every response), and uncorks the very
   * object that was corked even if the response has let go of its socket meanwhile.
   */
  private corkTarget: { cork(): void; uncork(): void } | undefined;

  constructor(req: NodeRequest, res: NodeResponse) {
    this.req = req;
    this.res = res;
    this.http2 = 'stream' in res && res.stream !== undefined && 'session' in res.stream;
    this.h2 = this.http2 ? (res as Http2ServerResponse) : undefined;
    this.h1 = this.http2 ? undefined : (res as ServerResponse);
    // Compression middleware adds `flush()`; without calling it, events sit in the gzip buffer.
    this.hasFlush = typeof (res as unknown as Flushable).flush === 'function';
    // HTTP/1 chunked framing adds at most 12 bytes a write (8 hex digits and two CRLFs); HTTP/2
    // counts data only. A compression layer (it adds flush()) may add more: no bound then.
    this.writeOverhead = this.hasFlush ? undefined : 16;
  }

  get destroyed(): boolean {
    const res = this.res;
    if (res.destroyed || res.writableEnded) return true;
    if (this.h2) return this.h2.stream.destroyed || this.h2.stream.closed;
    const socket = this.h1!.socket ?? this.req.socket;
    return !socket || socket.destroyed;
  }

  open(headers: SseHeaders): void {
    this.res.writeHead(200, headers);
    const h1 = this.h1;
    if (h1) {
      const socket = h1.socket ?? this.req.socket;
      // An event stream is idle between events by design: no socket timeout, and no Nagle
      // delay on small event writes.
      socket?.setTimeout(0);
      socket?.setNoDelay(true);
      socket?.setKeepAlive(true);
      h1.flushHeaders();
      this.corkTarget = h1.socket ?? undefined;
    } else if (this.h2) {
      // The compatibility API sends the HEADERS frame from writeHead().
      this.h2.stream.setTimeout(0);
      this.corkTarget = this.h2.stream;
    }
  }

  write(chunk: Uint8Array): boolean {
    const ok = (this.res as ServerResponse).write(chunk);
    // 'drain' only ever follows a write that returned false, so the listener is added then:
    // most streams never fill their buffer, and an idle stream stays smaller without it.
    if (!ok && !this.drainBound && this.onDrain) {
      this.drainBound = true;
      this.res.on('drain', this.onDrain);
    }
    return ok;
  }

  bufferedBytes(): number {
    if (this.h2) return this.h2.stream.writableLength;
    return this.h1!.writableLength;
  }

  flush(): void {
    if (this.hasFlush) (this.res as unknown as Flushable).flush!();
  }

  cork(): void {
    if (this.corkTarget) this.corkTarget.cork();
    else if (this.h1) this.h1.cork();
    else this.h2!.stream.cork();
  }

  uncork(): void {
    if (this.corkTarget) this.corkTarget.uncork();
    else if (this.h1) this.h1.uncork();
    else this.h2!.stream.uncork();
  }

  end(): void {
    this.res.end();
  }

  destroy(): void {
    if (this.h2) this.h2.stream.destroy();
    else this.h1!.destroy();
  }

  bind(onDrain: () => void, onClose: (error?: Error) => void): void {
    this.onDrain = onDrain;
    this.onClose = onClose;
    this.res.on('error', this.handleError);
    // `on` rather than `once`: 'close' is emitted once, handleClose calls back at most once, and
    // `once` would allocate a wrapper per stream.
    this.res.on('close', this.handleClose);
    if (this.h2) this.h2.stream.on('error', this.handleError);
  }

  private readonly handleError = (err: Error): void => {
    this.errored = err;
  };

  private readonly handleClose = (): void => {
    const onClose = this.onClose;
    this.onClose = undefined;
    onClose?.(this.errored);
  };
}

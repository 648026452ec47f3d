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
  const http2 = 'stream' in res && res.stream !== undefined && 'session' in res.stream;
  const flushable = res as unknown as Flushable;
  // Compression middleware adds `flush()`; without calling it, events sit in the gzip buffer.
  const hasFlush = typeof flushable.flush === 'function';
  const h2 = http2 ? (res as Http2ServerResponse) : undefined;
  const h1 = http2 ? undefined : (res as ServerResponse);
  let errored: Error | undefined;

  return {
    http2,
    get destroyed() {
      if (res.destroyed || res.writableEnded) return true;
      if (h2) return h2.stream.destroyed || h2.stream.closed;
      const socket = h1!.socket ?? req.socket;
      return !socket || socket.destroyed;
    },
    open(headers) {
      res.writeHead(200, headers);
      if (h1) {
        const socket = h1.socket ?? req.socket;
        // An event stream is idle between events by design: no socket timeout, and no Nagle
        // delay on small event writes.
        socket?.setTimeout(0);
        socket?.setNoDelay(true);
        socket?.setKeepAlive(true);
        h1.flushHeaders();
      } else if (h2) {
        // The compatibility API sends the HEADERS frame from writeHead().
        h2.stream.setTimeout(0);
      }
    },
    write(chunk) {
      return (res as ServerResponse).write(chunk);
    },
    bufferedBytes() {
      if (h2) return h2.stream.writableLength;
      return h1!.writableLength;
    },
    flush() {
      if (hasFlush) flushable.flush!();
    },
    cork() {
      if (h1) h1.cork();
      else h2!.stream.cork();
    },
    uncork() {
      if (h1) h1.uncork();
      else h2!.stream.uncork();
    },
    end() {
      res.end();
    },
    destroy() {
      if (h2) h2.stream.destroy();
      else h1!.destroy();
    },
    bind(onDrain, onClose) {
      res.on('drain', onDrain);
      res.on('error', (err: Error) => {
        errored = err;
      });
      res.once('close', () => onClose(errored));
      if (h2) h2.stream.on('error', (err: Error) => (errored = err));
    },
  };
}

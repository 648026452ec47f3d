/**
 * The small contract between a connection and its transport. A connection never touches
 * `node:http` directly: it writes bytes to a sink and listens for drain and close. Node's
 * HTTP/1 and HTTP/2 responses are the first sinks (`nodeSink`, in `node.ts`); a Web-Streams
 * sink for fetch-style runtimes is one more implementation of this interface.
 */
import type { SseHeaders } from './headers.js';

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
  /**
   * True when each write goes to the network at once (a system call per write, as the Node sink's
   * direct HTTP/1.1 socket writes do). A connection then corks the sink from the first write of an
   * event-loop tick, so that everything written in the tick leaves together at its end. Leave it
   * undefined (`false`) when the transport already joins a tick's writes, as `res.write` does.
   */
  readonly writesThrough?: boolean | undefined;
  /** Pushes bytes through intermediate layers (compression) when they buffer. */
  flush(): void;
  /** Holds writes until {@link SseSink.uncork}, so several events leave in one syscall. */
  cork(): void;
  /** Ends a {@link SseSink.cork}. */
  uncork(): void;
  /** Ends the response politely. */
  end(): void;
  /** Drops the transport at once, releasing its buffers. */
  destroy(): void;
  /**
   * Resolves once everything written has been handed to the network after {@link SseSink.end},
   * or the transport is gone. With `graceMs`, a transport that has not got there by then (a
   * client that stopped reading) is destroyed, and the promise resolves. Never rejects.
   */
  finished(graceMs?: number): Promise<void>;
  /**
   * Subscribes the connection's callbacks. Called once. `onClose` fires exactly once when the
   * transport goes away for any reason (including after {@link SseSink.end}), with an error only
   * when the transport failed: a peer that left (a reset, a broken pipe) is a normal close and
   * comes without one.
   */
  bind(onDrain: () => void, onClose: (error?: Error) => void): void;
}

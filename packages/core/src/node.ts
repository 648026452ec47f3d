/**
 * Node.js as a transport: the sink over an HTTP/1 or HTTP/2 (compatibility API) response, the
 * resume id of a Node request, how Node reports a client that left, and `createConnection`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { SseConnection, type Connection } from './connection.js';
import { SseClosedError } from './errors.js';
import type { SseHeaders } from './headers.js';
import { lastEventIdFrom } from './last-event-id.js';
import type { ConnectionOptions } from './options.js';
import type { Provider } from './provider.js';
import { frameChunk, joinChunks } from './shared-bytes.js';
import type { SseSink } from './sink.js';

/** A Node.js request: HTTP/1 or the HTTP/2 compatibility API. */
export type NodeRequest = IncomingMessage | Http2ServerRequest;
/** A Node.js response: HTTP/1 or the HTTP/2 compatibility API. */
export type NodeResponse = ServerResponse | Http2ServerResponse;

/** Error codes with which Node reports a peer that went away (reset, broken pipe, ...). */
const DISCONNECT_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE', 'ERR_STREAM_DESTROYED', 'ERR_HTTP2_STREAM_ERROR', 'ERR_HTTP2_INVALID_STREAM']);

function isDisconnectError(error: Error): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code !== undefined && DISCONNECT_CODES.has(code);
}

/**
 * Reads the id a reconnecting client resumes from: the `Last-Event-ID` header (its bytes
 * re-decoded as UTF-8), or the `lastEventId` query parameter. `undefined` when absent.
 */
export function readLastEventId(req: NodeRequest): string | undefined {
  const header = req.headers['last-event-id'];
  return lastEventIdFrom(Array.isArray(header) ? header[0] : header, req.url);
}

/**
 * Tells whether the client of `request` has gone away (its socket, or its HTTP/2 stream, is
 * closed).
 */
export function isClientDisconnected(request: NodeRequest): boolean;
/**
 * Tells whether `error` (caught from a write, or the reason of a connection's `signal`) means
 * the client went away: a reset or a broken pipe, or an {@link SseClosedError} with reason
 * `client`. Any other value is `false`.
 */
export function isClientDisconnected(error: unknown): boolean;
export function isClientDisconnected(target: unknown): boolean {
  if (target instanceof SseClosedError) return target.reason === 'client';
  // Errors from another realm (a vm context, a test sandbox) fail `instanceof Error`.
  if (target instanceof Error || Object.prototype.toString.call(target) === '[object Error]') {
    return isDisconnectError(target as Error);
  }
  if (target && typeof target === 'object' && 'headers' in target && 'socket' in target) {
    const req = target as NodeRequest;
    if ('stream' in req && req.stream) return req.stream.destroyed || req.stream.closed;
    const socket = (req as { socket?: { destroyed: boolean } | null }).socket;
    return !socket || socket.destroyed;
  }
  return false;
}

/**
 * Opens an event stream on a Node.js HTTP/1 or HTTP/2 (compatibility API) response: writes the
 * headers at once, turns off the socket timeout and Nagle, and starts the heartbeat. The resume
 * id is read from the request unless `options` has the `lastEventId` key.
 *
 * @throws {SseOptionsError} for invalid options.
 */
export function createConnection(req: NodeRequest, res: NodeResponse, options: ConnectionOptions = {}): SseConnection {
  // The request is read only when the caller did not say which id to resume from.
  const given = typeof options !== 'object' || options === null || 'lastEventId' in options ? options : { ...options, lastEventId: readLastEventId(req) };
  return new SseConnection(nodeSink(req, res), given);
}

/** The provider the adapters use by default: an {@link SseConnection} on the Node response. */
export class DefaultProvider implements Provider {
  createConnection(req: NodeRequest, res: NodeResponse, options: ConnectionOptions): Connection {
    return createConnection(req, res, options);
  }
}

/** A sink over a Node.js `ServerResponse` or `Http2ServerResponse`. */
export function nodeSink(req: NodeRequest, res: NodeResponse): SseSink {
  return new NodeSink(req, res);
}

type Flushable = { flush?: () => void };
/** What the sink uses of an HTTP/1 socket it writes to directly. */
type DirectSocket = NonNullable<ServerResponse['socket']> & { _httpMessage?: unknown };

/** True on Node.js itself; Bun and Deno emulate `node:http` with other internals. */
const ON_NODE = typeof process !== 'undefined' && process.release?.name === 'node' && !('bun' in process.versions) && !('deno' in process.versions);

/**
 * True when `res.write` is Node's own (`OutgoingMessage.prototype.write`): nothing (compression,
 * a logger, a framework's subclass) wraps it to see or change the bytes.
 */
function hasNodeWrite(res: ServerResponse): boolean {
  let proto: object | null = res;
  while (proto !== null && !Object.prototype.hasOwnProperty.call(proto, 'write')) proto = Object.getPrototypeOf(proto) as object | null;
  return proto !== null && proto !== res && Object.prototype.hasOwnProperty.call(proto, '_writeRaw');
}
type WriteFn = (this: NodeResponse, chunk: Uint8Array) => boolean;

const FINISHED: Promise<void> = Promise.resolve();


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
  /**
   * The response's `write`, looked up once. Behind Express every response has a prototype
   * chain of its own app (`app.response` over Express's response over `ServerResponse`), and
   * looking `write` up through it on every event costs more than the write itself under load.
   * Taken from the response itself, so a `write` that middleware put on it (compression) is
   * the one called.
   */
  private readonly writeFn: WriteFn;
  /** The response's `flush` (compression middleware), looked up once; see {@link NodeSink.writeFn}. */
  private readonly flushFn: (() => void) | undefined;
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
  /**
   * The HTTP/1 socket that event bytes are written to directly, framed as chunks here, when
   * `res.write` would do just that: Node's own `write`, chunked encoding, and the response is
   * the one on its socket (not one queued behind another on a pipelined connection). A framed
   * chunk is one socket write, where `res.write` makes four and joins them in a `writev`. The
   * bytes on the wire are the same; `res.end()` still writes the last chunk.
   */
  private direct: DirectSocket | undefined;
  /** Open `cork()` calls; while above 0, direct writes are held here and leave at the last `uncork()`. */
  private corks = 0;
  /** The first write held while corked (most ticks hold one), then {@link NodeSink.heldMore}. */
  private heldFirst: Uint8Array | undefined;
  /** The writes held after the first, with it, when there are two or more. */
  private heldMore: Uint8Array[] | undefined;
  /** Bytes held while corked. */
  private heldSize = 0;

  constructor(req: NodeRequest, res: NodeResponse) {
    this.req = req;
    this.res = res;
    this.http2 = 'stream' in res && res.stream !== undefined && 'session' in res.stream;
    this.h2 = this.http2 ? (res as Http2ServerResponse) : undefined;
    this.h1 = this.http2 ? undefined : (res as ServerResponse);
    // Compression middleware adds `flush()`; without calling it, events sit in the gzip buffer.
    const flush = (res as unknown as Flushable).flush;
    this.hasFlush = typeof flush === 'function';
    this.flushFn = this.hasFlush ? flush : undefined;
    this.writeFn = (res as ServerResponse).write as WriteFn;
    // HTTP/1 chunked framing adds at most 12 bytes a write (8 hex digits and two CRLFs); HTTP/2
    // counts data only. A compression layer (it adds flush()) may add more: no bound then.
    this.writeOverhead = this.hasFlush ? undefined : 16;
  }

  /** {@link SseSink.writesThrough}: true while writes go to the socket directly. */
  get writesThrough(): boolean {
    return this.direct !== undefined;
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
      const own = h1.socket as DirectSocket | null;
      if (ON_NODE && !this.hasFlush && own !== null && own._httpMessage === h1 && h1.chunkedEncoding === true && hasNodeWrite(h1)) this.direct = own;
    } else if (this.h2) {
      // The compatibility API sends the HEADERS frame from writeHead().
      this.h2.stream.setTimeout(0);
      this.corkTarget = this.h2.stream;
    }
  }

  write(chunk: Uint8Array): boolean {
    const direct = this.direct;
    let ok: boolean;
    if (direct !== undefined) {
      // An empty chunk would end the body; `res.write` writes nothing for one either.
      if (chunk.length === 0) return true;
      if (this.corks > 0) {
        if (this.heldFirst === undefined) this.heldFirst = chunk;
        else (this.heldMore ??= [this.heldFirst]).push(chunk);
        this.heldSize += chunk.length;
        // The socket's own state: a 'drain' is due exactly when it is over its mark already.
        if (this.heldSize < direct.writableHighWaterMark) return direct.writableLength < direct.writableHighWaterMark;
        // A tick that writes this much writes now, so the socket's backpressure holds.
        return this.writeHeld(direct);
      }
      ok = direct.write(frameChunk(chunk));
    } else ok = this.writeFn.call(this.res, chunk);
    this.watchDrain(ok, direct);
    return ok;
  }

  /**
   * Writes what was held while corked as one chunk (shared by the streams that held the same
   * bytes). Returns the socket's backpressure bit.
   */
  private writeHeld(direct: DirectSocket): boolean {
    const first = this.heldFirst;
    if (first === undefined) return direct.writableLength < direct.writableHighWaterMark;
    const more = this.heldMore;
    const chunk = more === undefined ? first : joinChunks(more, this.heldSize);
    this.heldFirst = undefined;
    this.heldMore = undefined;
    this.heldSize = 0;
    const ok = direct.write(frameChunk(chunk));
    this.watchDrain(ok, direct);
    return ok;
  }

  private watchDrain(ok: boolean, direct: DirectSocket | undefined): void {
    // 'drain' only ever follows a write that returned false, so the listener is added then:
    // most streams never fill their buffer, and an idle stream stays smaller without it.
    if (!ok && !this.drainBound && this.onDrain) {
      this.drainBound = true;
      // Direct writes fill the socket's buffer, which the response's 'drain' does not report.
      if (direct !== undefined) direct.on('drain', this.onDrain);
      else this.res.on('drain', this.onDrain);
    }
  }

  bufferedBytes(): number {
    if (this.h2) return this.h2.stream.writableLength;
    return this.h1!.writableLength + this.heldSize;
  }

  flush(): void {
    if (this.flushFn !== undefined) this.flushFn.call(this.res);
  }

  cork(): void {
    // Direct writes are held here: a socket's own cork would queue each one as a stream write.
    if (this.direct !== undefined) this.corks++;
    else if (this.corkTarget) this.corkTarget.cork();
    else if (this.h1) this.h1.cork();
    else this.h2!.stream.cork();
  }

  uncork(): void {
    if (this.direct !== undefined) {
      if (this.corks > 0 && --this.corks === 0) this.writeHeld(this.direct);
    } else if (this.corkTarget) this.corkTarget.uncork();
    else if (this.h1) this.h1.uncork();
    else this.h2!.stream.uncork();
  }

  end(): void {
    if (this.direct !== undefined) {
      this.corks = 0;
      this.writeHeld(this.direct);
    }
    this.res.end();
  }

  destroy(): void {
    this.dropHeld();
    if (this.h2) this.h2.stream.destroy();
    else this.h1!.destroy();
  }

  finished(graceMs?: number): Promise<void> {
    const res = this.res;
    if (res.destroyed || res.writableFinished) return FINISHED;
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        res.off('finish', done);
        res.off('close', done);
        resolve();
      };
      if (graceMs !== undefined) {
        timer = setTimeout(() => {
          this.destroy();
          done();
        }, graceMs);
      }
      res.on('finish', done);
      res.on('close', done);
    });
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

  /** Forgets held writes (the transport is gone, or is being dropped). */
  private dropHeld(): void {
    this.corks = 0;
    this.heldFirst = undefined;
    this.heldMore = undefined;
    this.heldSize = 0;
  }

  private readonly handleError = (err: Error): void => {
    this.errored = err;
  };

  private readonly handleClose = (): void => {
    // A kept-alive socket outlives the response: it must not call into a closed connection.
    if (this.direct !== undefined && this.drainBound && this.onDrain) this.direct.off('drain', this.onDrain);
    this.dropHeld();
    this.direct = undefined;
    const onClose = this.onClose;
    this.onClose = undefined;
    const error = this.errored;
    // A client that left with a reset or a broken pipe is a normal close, not a failure.
    onClose?.(error && !isDisconnectError(error) ? error : undefined);
  };
}

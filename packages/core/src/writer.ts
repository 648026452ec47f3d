/**
 * The low-level writer: event-stream headers and encoded events on a response, nothing else.
 * No heartbeat, registry or close tracking: use {@link SseConnection} for those.
 */
import type { SseEvent } from './event.js';
import { formatComment, formatEvent } from './format.js';
import { nodeSink, type NodeRequest, type NodeResponse, type SseHeaders, type SseSink } from './sink.js';

/** The headers every event stream is sent with (plus `Connection: keep-alive` on HTTP/1). */
export const SSE_HEADERS: Readonly<SseHeaders> = Object.freeze({
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
});

/** Header names (lower case) an app cannot set on a stream: the ones written here. */
const RESERVED = new Set([...Object.keys(SSE_HEADERS).map((name) => name.toLowerCase()), 'connection']);

/**
 * Builds the stream's response headers: `extra`, then the event-stream ones. Header names are
 * case-insensitive while object keys are not: an extra `content-type` next to `Content-Type`
 * would be sent as a second header line (and Node's own client keeps the first), so extras
 * named like a reserved header are dropped. `Connection` is also forbidden on HTTP/2.
 */
export function streamHeaders(http2: boolean, extra?: SseHeaders): SseHeaders {
  const headers: SseHeaders = {};
  if (extra) {
    for (const name of Object.keys(extra)) {
      if (!RESERVED.has(name.toLowerCase())) headers[name] = extra[name]!;
    }
  }
  Object.assign(headers, SSE_HEADERS);
  if (!http2) headers['Connection'] = 'keep-alive';
  return headers;
}

/**
 * Writes events to one response. Each write returns the transport's backpressure bit: `false`
 * means wait for `drain` before writing more.
 */
export class SseWriter {
  private readonly sink: SseSink;

  /** Wraps a Node response (HTTP/1 or HTTP/2 compatibility API) or any {@link SseSink}. */
  constructor(target: SseSink | { req: NodeRequest; res: NodeResponse }) {
    this.sink = 'write' in target ? target : nodeSink(target.req, target.res);
  }

  /** Sends status 200 and the event-stream headers at once. */
  writeHead(extra?: SseHeaders): void {
    this.sink.open(streamHeaders(this.sink.http2, extra));
  }

  /** Encodes and writes one event. @throws {SseFormatError} for an unrepresentable event. */
  writeEvent(event: SseEvent): boolean {
    return this.writeBytes(formatEvent(event));
  }

  /** Writes a comment. */
  writeComment(text?: string): boolean {
    return this.writeBytes(formatComment(text));
  }

  /** Writes bytes that are already an encoded event or comment. */
  writeBytes(bytes: Uint8Array): boolean {
    const ok = this.sink.write(bytes);
    this.sink.flush();
    return ok;
  }

  /** Ends the response. */
  end(): void {
    this.sink.end();
  }
}

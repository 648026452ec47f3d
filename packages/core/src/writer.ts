/**
 * The low-level writer: event-stream headers and encoded events on a response, nothing else.
 * No heartbeat, registry or close tracking: use {@link SseConnection} for those.
 */
import type { SseEvent } from './event.js';
import { formatComment, formatEvent } from './format.js';
import { streamHeaders, type SseHeaders } from './headers.js';
import { nodeSink, type NodeRequest, type NodeResponse } from './node.js';
import type { SseSink } from './sink.js';

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

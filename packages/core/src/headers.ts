/**
 * The response headers of an event stream.
 */

/** Response headers as name/value pairs. */
export type SseHeaders = Record<string, string>;

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
 * named like a reserved header are dropped. `Connection: keep-alive` is added for HTTP/1 only:
 * HTTP/2 forbids connection-specific headers.
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

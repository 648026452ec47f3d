/**
 * Reading complete wire text: with eventsource-parser (what most clients use), and with the
 * hand-written reading of the WHATWG algorithm as an independent check.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';

export { interpretStream, SpecParser, type SpecMessage } from '@ssekit/harness/spec-parser';

/** What {@link parseWire} reports. */
export interface ParsedWire {
  events: EventSourceMessage[];
  comments: string[];
  retries: number[];
  errors: Error[];
}

/** Options of {@link parseWire}. */
export interface ParseWireOptions {
  /** Byte offsets where the input is cut into pieces, fed one by one (default: one piece). */
  cuts?: readonly number[];
  /** Decode as a browser does: invalid UTF-8 throws, a leading BOM is dropped. Default false. */
  fatal?: boolean;
}

/** Parses wire text or bytes with eventsource-parser and returns everything it reported. */
export function parseWire(wire: string | Uint8Array, options: ParseWireOptions = {}): ParsedWire {
  const out: ParsedWire = { events: [], comments: [], retries: [], errors: [] };
  const parser = createParser({
    onEvent: (event) => out.events.push(event),
    onComment: (comment) => out.comments.push(comment),
    onRetry: (retry) => out.retries.push(retry),
    onError: (error) => out.errors.push(error),
  });
  if (typeof wire === 'string' && options.cuts === undefined && !options.fatal) {
    parser.feed(wire);
    return out;
  }
  const bytes = typeof wire === 'string' ? Buffer.from(wire, 'utf8') : wire;
  const decoder = options.fatal ? new TextDecoder('utf-8', { fatal: true }) : new TextDecoder('utf-8', { ignoreBOM: true });
  const points = [...new Set((options.cuts ?? []).map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let at = 0;
  for (const point of [...points, bytes.length]) {
    parser.feed(decoder.decode(bytes.subarray(at, point), { stream: true }));
    at = point;
  }
  parser.feed(decoder.decode());
  return out;
}

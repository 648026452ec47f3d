/**
 * How an event is kept in the stream, and how replies are read back.
 *
 * An entry holds the event already encoded, without its `id:` line (the id is the entry id,
 * known only once Redis has assigned it), so readers and replays write the same bytes without
 * encoding again. The fields stay readable with `redis-cli XRANGE`:
 *
 * ```
 * ssekit 1  topic <topic, only for broadcastTo>  body "event: ...\ndata: ...\n\n"
 * ```
 */
import type { SseEvent, StoredEvent } from '@ssekit/core';
import { formatEventBody, withIdLine } from '@ssekit/core/integration';

/** Marks entries written by this package (and the layout version). */
const MARKER_FIELD = 'ssekit';
const MARKER_VALUE = '1';

/** One decoded stream entry. */
export interface StreamEntry {
  /** The entry id, which is the event id. */
  readonly id: string;
  /** The topic it was broadcast to; `undefined` for everyone. */
  readonly topic: string | undefined;
  /** The event's wire text without its `id:` line. */
  readonly body: string;
}

/**
 * Validates and encodes an event into XADD field/value pairs. Throws `SseFormatError` before
 * anything reaches Redis, so an event that cannot be written never enters the stream. An `id`
 * given by the caller is ignored: the stream assigns ids.
 */
export function toFields(event: SseEvent, topic: string | undefined): string[] {
  const body = formatEventBody(event);
  return topic === undefined
    ? [MARKER_FIELD, MARKER_VALUE, 'body', body]
    : [MARKER_FIELD, MARKER_VALUE, 'topic', topic, 'body', body];
}

/** The bytes a client receives for an entry: the `id:` line, then the stored body. */
export function entryBytes(entry: StreamEntry): Buffer {
  return withIdLine(entry.id, entry.body);
}

/**
 * Rebuilds the event an entry carries, as the client parses it (`data` as the string it sees).
 * The body was written by {@link toFields}, so every line is `name: value`.
 */
export function entryEvent(entry: StreamEntry): StoredEvent {
  const event: StoredEvent = { id: entry.id };
  let data: string[] | undefined;
  for (const line of entry.body.split('\n')) {
    const colon = line.indexOf(': ');
    if (colon === -1) continue;
    const value = line.slice(colon + 2);
    switch (line.slice(0, colon)) {
      case 'event':
        event.event = value;
        break;
      case 'retry':
        event.retry = Number(value);
        break;
      case 'data':
        (data ??= []).push(value);
        break;
    }
  }
  if (data) event.data = data.join('\n');
  return event;
}

/** Decodes one `[id, [field, value, ...]]` reply item; `undefined` for entries not ours. */
function decodeEntry(raw: unknown): StreamEntry | undefined {
  if (!Array.isArray(raw) || typeof raw[0] !== 'string' || !Array.isArray(raw[1])) return undefined;
  const fields = raw[1] as unknown[];
  let marker: unknown;
  let topic: string | undefined;
  let body: string | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const value = fields[i + 1];
    switch (fields[i]) {
      case MARKER_FIELD:
        marker = value;
        break;
      case 'topic':
        if (typeof value === 'string') topic = value;
        break;
      case 'body':
        if (typeof value === 'string') body = value;
        break;
    }
  }
  if (marker !== MARKER_VALUE || body === undefined) return undefined;
  return { id: raw[0], topic, body };
}

/** A range reply item reduced to its id (for entries that are not ours as well). */
export function rawId(raw: unknown): string | undefined {
  return Array.isArray(raw) && typeof raw[0] === 'string' ? raw[0] : undefined;
}

/**
 * Decodes an XRANGE reply. Entries not written by this package keep their place (as
 * `undefined`) so ids still line up, but carry no event.
 */
export function decodeRange(reply: unknown): { id: string; entry: StreamEntry | undefined }[] {
  if (!Array.isArray(reply)) return [];
  const out: { id: string; entry: StreamEntry | undefined }[] = [];
  for (const raw of reply) {
    const id = rawId(raw);
    if (id !== undefined) out.push({ id, entry: decodeEntry(raw) });
  }
  return out;
}

/**
 * The entries of an XREAD reply for one stream. The reply's shape depends on the protocol:
 * RESP2 (and RESP3 with ioredis' legacy mapping) gives `[[key, entries]]`, RESP3 maps may
 * arrive flat (`[key, entries]`) or as an object `{ key: entries }`.
 */
export function xreadEntries(reply: unknown): unknown[] {
  if (reply === null || reply === undefined) return [];
  if (Array.isArray(reply)) {
    if (reply.length === 2 && typeof reply[0] === 'string' && Array.isArray(reply[1])) return reply[1] as unknown[];
    const first = reply[0];
    return Array.isArray(first) && Array.isArray(first[1]) ? (first[1] as unknown[]) : [];
  }
  if (typeof reply === 'object') {
    const values = Object.values(reply as Record<string, unknown>);
    return Array.isArray(values[0]) ? (values[0] as unknown[]) : [];
  }
  return [];
}

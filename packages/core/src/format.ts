/**
 * The event-stream encoder.
 *
 * Every rule here follows the WHATWG HTML "Server-sent events" parsing algorithm:
 * https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 *
 * The encoder's promise: whatever it returns parses back, in any compliant client, to exactly
 * the event it was given. Input that cannot keep that promise throws {@link SseFormatError}
 * before a byte is produced.
 */
import type { SseEvent } from './event.js';
import { SseFormatError, type SseField } from './errors.js';

/** "Lines must be separated by either a U+000D CARRIAGE RETURN U+000A LINE FEED (CRLF) character
 * pair, a single U+000A LINE FEED (LF) character, or a single U+000D CARRIAGE RETURN (CR)
 * character." */
const LINE_BREAK = /\r\n|\r|\n/;
const HAS_CR_OR_LF = /[\r\n]/;
const HAS_CR_LF_OR_NUL = /[\r\n\0]/;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * UTF-8 cannot carry a lone surrogate: `Buffer.from` would silently replace it with U+FFFD and
 * the client would receive something else than was sent.
 */
function assertWellFormed(field: SseField, value: string): void {
  if (!value.isWellFormed()) {
    throw new SseFormatError(field, value, 'contains a lone surrogate, which UTF-8 cannot encode');
  }
}

/** Turns `data` into the exact string the client's `MessageEvent.data` must equal. */
function dataToString(data: unknown): string {
  if (typeof data === 'string') return data;
  if (data instanceof Uint8Array) {
    try {
      return strictUtf8.decode(data);
    } catch {
      throw new SseFormatError('data', data, 'bytes are not valid UTF-8');
    }
  }
  let json: string | undefined;
  try {
    json = JSON.stringify(data);
  } catch (cause) {
    throw new SseFormatError('data', data, `cannot be serialised as JSON (${String(cause)})`);
  }
  if (json === undefined) {
    throw new SseFormatError('data', data, `a ${typeof data} cannot be serialised as JSON`);
  }
  return json;
}

/**
 * Validates an id and returns its `id:` line. Field order does not matter to the parser, so an
 * id assigned after the rest of the event was encoded can be put in front of it.
 */
export function formatIdLine(id: unknown): string {
  if (typeof id !== 'string') throw new SseFormatError('id', id, 'must be a string');
  // "If the field value does not contain U+0000 NULL, then set the last event ID buffer to the
  // field value. Otherwise, ignore the field." An id with NUL would be silently dropped, and a
  // line break would inject fields.
  if (HAS_CR_LF_OR_NUL.test(id)) throw new SseFormatError('id', id, 'must not contain CR, LF or NUL');
  assertWellFormed('id', id);
  return `id: ${id}\n`;
}

/** Validates an event and returns its wire text, with or without its `id:` line. */
function eventText(event: SseEvent, withId: boolean): string {
  if (event === null || typeof event !== 'object') {
    throw new SseFormatError('data', event, 'an event must be an object');
  }
  let out = '';
  const { id, event: name, retry, data } = event;
  if (name !== undefined) {
    if (typeof name !== 'string') throw new SseFormatError('event', name, 'must be a string');
    // A line break would end the field and let the rest of the name inject other fields.
    if (HAS_CR_OR_LF.test(name)) throw new SseFormatError('event', name, 'must not contain CR or LF');
    assertWellFormed('event', name);
    out += `event: ${name}\n`;
  }
  if (withId && id !== undefined) out += formatIdLine(id);
  if (retry !== undefined) {
    // "If the field value consists of only ASCII digits, then interpret the field value as an
    // integer in base ten" - anything else is ignored by the client.
    if (typeof retry !== 'number' || !Number.isSafeInteger(retry) || retry < 0) {
      throw new SseFormatError('retry', retry, 'must be a non-negative integer (milliseconds)');
    }
    out += `retry: ${retry}\n`;
  }
  if (data !== undefined) {
    const text = dataToString(data);
    assertWellFormed('data', text);
    // Each line becomes its own data field; the client joins them with LF. One space after the
    // colon is always written, because the parser strips exactly one: leading spaces survive.
    if (!HAS_CR_OR_LF.test(text)) {
      out += `data: ${text}\n`;
    } else {
      for (const line of text.split(LINE_BREAK)) out += `data: ${line}\n`;
    }
  }
  // "If the line is empty (a blank line): Dispatch the event".
  return out + '\n';
}

/**
 * The body-then-id encoding, first half: validates an event and returns its wire text without
 * an `id:` line (an `id` in `event` is ignored). A broadcaster encodes the body once, before the
 * id is known (a replayer or a backend assigns it), and keeps or ships it as text; the bytes
 * clients receive are then {@link withIdLine}`(id, body)`.
 * @throws {SseFormatError} like {@link formatEvent}.
 */
export function formatEventBody(event: SseEvent): string {
  return eventText(event, false);
}

/**
 * The body-then-id encoding, second half: the bytes of an event whose body came from
 * {@link formatEventBody}, with the `id:` line in front when `id` is given (field order does not
 * matter to the parser). The same bytes go to every receiver.
 * @throws {SseFormatError} for an id with CR, LF or NUL, or one that is not well-formed UTF-16.
 */
export function withIdLine(id: string | undefined, body: string): Buffer {
  return Buffer.from(id === undefined ? body : formatIdLine(id) + body, 'utf8');
}

/**
 * Encodes one event to bytes, ready to be written to any number of connections.
 *
 * - every line of `data` (split on CRLF, CR or LF) becomes its own `data: ` line;
 * - an event without `data` is written without `data:` lines (it only moves the last event id);
 * - `data: ''` is one empty `data: ` line, which does fire a `message`;
 * - non-string, non-bytes data is `JSON.stringify`ed.
 *
 * @throws {SseFormatError} when `id` contains CR, LF or NUL, `event` contains CR or LF, `retry`
 *   is not a non-negative integer, a string is not well-formed UTF-16, bytes are not UTF-8, or
 *   data cannot be serialised.
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 */
export function formatEvent(event: SseEvent): Buffer {
  return Buffer.from(eventText(event, true), 'utf8');
}

/**
 * Encodes a comment. Every input line becomes its own `:` line, so a comment can never inject a
 * field. Clients ignore comments; they keep proxies and load balancers from timing out.
 *
 * @throws {SseFormatError} on a string that is not well-formed UTF-16.
 */
export function formatComment(text = ''): Buffer {
  if (typeof text !== 'string') throw new SseFormatError('comment', text, 'must be a string');
  assertWellFormed('comment', text);
  let out = '';
  for (const line of text.split(LINE_BREAK)) out += line === '' ? ':\n' : `: ${line}\n`;
  return Buffer.from(out, 'utf8');
}

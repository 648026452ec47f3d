/**
 * The event-stream parser, a literal reading of the WHATWG HTML "Server-sent events"
 * interpretation rules:
 * https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 *
 * It takes decoded text in chunks of any size (a line, or a CR LF pair, may be split across
 * chunks) and calls back once per dispatched event.
 */

/** One dispatched event, as the spec's `MessageEvent` would carry it. */
export interface ParsedEvent {
  /** The event type: the last `event:` field of the block, or `message` when there is none. */
  readonly event: string;
  /** The `data:` lines of the block joined with LF. */
  readonly data: string;
  /** The value of this block's `id:` field, or `undefined` when the block has none. */
  readonly id: string | undefined;
  /**
   * The stream's last event ID once this event is dispatched (`MessageEvent.lastEventId`): the
   * most recent `id:` of this or an earlier block; `''` when none was sent or it was reset.
   */
  readonly lastEventId: string;
}

/** What the parser reports. */
export interface ParserCallbacks {
  /** A block with data ended with a blank line. */
  onEvent(event: ParsedEvent): void;
  /** A `retry:` field made of ASCII digits only: the new reconnection time in milliseconds. */
  onRetry?(ms: number): void;
  /** A comment line (starting with `:`), without the colon and one following space. */
  onComment?(text: string): void;
}

/** A parser for one response body. */
export interface EventStreamParser {
  /** Parses the next piece of decoded text. */
  feed(chunk: string): void;
  /**
   * The last event ID string: set when a block is dispatched (even a block without data), so
   * it is what a reconnect must send as `Last-Event-ID`. A block cut off by the end of the
   * stream does not count.
   */
  readonly lastEventId: string;
}

const BOM = '\uFEFF';
/** "Lines must be separated by either a U+000D CARRIAGE RETURN U+000A LINE FEED (CRLF) character
 * pair, a single U+000A LINE FEED (LF) character, or a single U+000D CARRIAGE RETURN (CR) character." */
const LINE_BREAK = /\r\n|\r|\n/;
/** "If the field value consists of only ASCII digits, then interpret the field value as an integer in base ten." */
const DIGITS = /^[0-9]+$/;

/**
 * Creates a parser for one response. A new response (a reconnect) needs a new parser, started
 * from the last event ID the previous one reached.
 * @param lastEventId - the last event ID the stream starts from. Default: `''`.
 */
export function createEventStreamParser(callbacks: ParserCallbacks, lastEventId = ''): EventStreamParser {
  const { onEvent, onRetry, onComment } = callbacks;
  let started = false;
  let afterCR = false;
  /** An unterminated line carried over from the previous chunk. */
  let rest = '';
  let data = '';
  let eventType = '';
  let idBuffer = lastEventId;
  let idField: string | undefined;
  let committedId = lastEventId;

  function dispatch(): void {
    // "Set the last event ID string of the event source to the value of the last event ID
    // buffer." This happens before the data check: a block with only an id moves it too.
    committedId = idBuffer;
    const id = idField;
    idField = undefined;
    // "If the data buffer is an empty string, set the data buffer and the event type buffer to
    // the empty string and return."
    if (data === '') {
      eventType = '';
      return;
    }
    // "If the data buffer's last character is a U+000A LINE FEED (LF) character, then remove
    // the last character from the data buffer."
    const event: ParsedEvent = { event: eventType || 'message', data: data.slice(0, -1), id, lastEventId: committedId };
    data = '';
    eventType = '';
    onEvent(event);
  }

  function line(text: string): void {
    if (text === '') return dispatch();
    const colon = text.indexOf(':');
    if (colon === 0) {
      onComment?.(text.charCodeAt(1) === 32 ? text.slice(2) : text.slice(1));
      return;
    }
    let field = text;
    let value = '';
    if (colon > 0) {
      field = text.slice(0, colon);
      // "If value starts with a U+0020 SPACE character, remove it from value."
      value = text.slice(text.charCodeAt(colon + 1) === 32 ? colon + 2 : colon + 1);
    }
    switch (field) {
      case 'event':
        eventType = value;
        break;
      case 'data':
        data += value + '\n';
        break;
      case 'id':
        // "If the field value does not contain U+0000 NULL, then set the last event ID buffer to
        // the field value. Otherwise, ignore the field."
        if (!value.includes('\0')) idBuffer = idField = value;
        break;
      case 'retry':
        if (DIGITS.test(value)) onRetry?.(Number(value));
        break;
      // "Otherwise: the field is ignored."
    }
  }

  function feed(chunk: string): void {
    if (chunk === '') return;
    if (!started) {
      started = true;
      // "One leading U+FEFF BYTE ORDER MARK character must be ignored if any are present."
      if (chunk.startsWith(BOM)) chunk = chunk.slice(1);
    }
    // The previous chunk ended with CR, already taken as a line end: a LF right after it is
    // the second half of a CR LF pair, not an empty line.
    if (afterCR && chunk.charCodeAt(0) === 10) chunk = chunk.slice(1);
    afterCR = chunk.endsWith('\r');
    if (!/[\r\n]/.test(chunk)) {
      rest += chunk;
      return;
    }
    const lines = (rest + chunk).split(LINE_BREAK);
    rest = lines.pop()!;
    for (const text of lines) line(text);
  }

  return {
    feed,
    get lastEventId() {
      return committedId;
    },
  };
}

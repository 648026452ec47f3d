/**
 * A literal reading of "Interpreting an event stream" (WHATWG HTML), written by hand so that it
 * checks ssekit independently of the eventsource-parser package the tests also use. It is fed
 * text or bytes in pieces of any size and is fast enough for thousands of streams in one
 * process (the stress clients).
 * https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 */
import { StringDecoder } from 'node:string_decoder';

/**
 * What the algorithm dispatches: the `MessageEvent` fields a browser exposes.
 * @typedef {{ type: string, data: string, lastEventId: string }} SpecMessage
 */

/**
 * @typedef {object} SpecParserHandlers
 * @property {(message: SpecMessage) => void} [onMessage] every dispatched event
 * @property {(ms: number) => void} [onRetry] every valid `retry:` field
 */

export class SpecParser {
  /** @param {SpecParserHandlers} [handlers] */
  constructor({ onMessage = () => {}, onRetry = () => {} } = {}) {
    this.onMessage = onMessage;
    this.onRetry = onRetry;
    this.decoder = new StringDecoder('utf8');
    this.rest = '';
    this.first = true;
    this.data = '';
    this.type = '';
    // "The last event ID buffer" is set by an `id:` field; the stream's last event ID (what
    // EventSource sends back as Last-Event-ID) only takes it when a blank line is reached,
    // so an event cut off mid-way does not count as received.
    this.idBuffer = '';
    /** The last event ID string: `MessageEvent.lastEventId` of the next event. */
    this.lastEventId = '';
    /** The reconnection time from the last valid `retry:` field, if any. */
    this.retry = undefined;
  }

  /**
   * Feeds the next piece of the stream.
   * @param {string | Uint8Array} chunk text, or bytes decoded as streaming UTF-8
   */
  push(chunk) {
    let text = this.rest + (typeof chunk === 'string' ? chunk : this.decoder.write(chunk));
    if (this.first && text.length > 0) {
      this.first = false;
      // "One leading U+FEFF BYTE ORDER MARK character must be ignored if any are present."
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    let start = 0;
    for (;;) {
      const lf = text.indexOf('\n', start);
      const cr = text.indexOf('\r', start);
      let end;
      let next;
      if (cr !== -1 && (lf === -1 || cr < lf)) {
        // A CR at the end of the piece may be the first half of a CRLF: wait for more.
        if (cr === text.length - 1) break;
        end = cr;
        next = text.charCodeAt(cr + 1) === 10 ? cr + 2 : cr + 1;
      } else if (lf !== -1) {
        end = lf;
        next = lf + 1;
      } else {
        break;
      }
      this.line(text.slice(start, end));
      start = next;
    }
    this.rest = text.slice(start);
  }

  /**
   * The stream has ended: a held-back CR ends its line. A trailing line with no line end is
   * incomplete and is dropped, as the spec says ("once the end of the file is reached, any
   * pending data must be discarded").
   */
  end() {
    const text = this.rest + this.decoder.end();
    this.rest = '';
    if (text.endsWith('\r')) this.push(text.slice(0, -1) + '\n');
  }

  /** @param {string} line */
  line(line) {
    if (line === '') {
      this.lastEventId = this.idBuffer;
      if (this.data === '') {
        this.type = '';
        return;
      }
      const data = this.data.charCodeAt(this.data.length - 1) === 10 ? this.data.slice(0, -1) : this.data;
      const type = this.type === '' ? 'message' : this.type;
      this.data = '';
      this.type = '';
      this.onMessage({ type, data, lastEventId: this.lastEventId });
      return;
    }
    if (line.charCodeAt(0) === 58) return; // ':' a comment
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'data') this.data += value + '\n';
    else if (field === 'event') this.type = value;
    else if (field === 'id') {
      if (!value.includes('\0')) this.idBuffer = value;
    } else if (field === 'retry') {
      if (/^[0-9]+$/.test(value)) {
        this.retry = Number(value);
        this.onRetry(this.retry);
      }
    }
  }
}

/**
 * Interprets a complete stream: every dispatched message, the last event ID string and the
 * reconnection time at the end.
 * @param {string | Uint8Array} stream
 * @returns {{ messages: SpecMessage[], lastEventId: string, retry: number | undefined }}
 */
export function interpretStream(stream) {
  /** @type {SpecMessage[]} */
  const messages = [];
  const parser = new SpecParser({ onMessage: (m) => messages.push(m) });
  parser.push(stream);
  parser.end();
  return { messages, lastEventId: parser.lastEventId, retry: parser.retry };
}

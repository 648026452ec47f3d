/**
 * From the text of a `data:` field to the value listeners receive.
 *
 * An ssekit server writes a string as it is and anything else as JSON (`formatEvent`), so the
 * wire does not say which one it was. `'auto'` decides by looking: only text that could be
 * JSON is given to `JSON.parse`, so plain text costs no exception.
 */
import { SseClientError } from './errors.js';
import type { ParseMode } from './options.js';

/** Could the text be a JSON value? Its first character decides, or it is one of the three literal words. */
const LOOKS_LIKE_JSON = /^[[{"\d-]|^(true|false|null)$/;

/**
 * Turns event data into what listeners receive, following `mode`.
 * @throws {SseClientError} code `parse`, when `'json'` or a function cannot parse it.
 */
export function parseData(text: string, event: string, mode: ParseMode): unknown {
  if (mode === 'text') return text;
  if (mode === 'auto') {
    if (!LOOKS_LIKE_JSON.test(text)) return text;
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  try {
    return mode === 'json' ? JSON.parse(text) : mode(text, event);
  } catch (cause) {
    throw new SseClientError('parse', `Cannot parse "${event}" data: ${String(cause)}`, { cause });
  }
}

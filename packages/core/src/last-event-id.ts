/**
 * The id a reconnecting client resumes from, as any transport receives it: the `Last-Event-ID`
 * header, or the `lastEventId` query parameter that EventSource polyfills use.
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#the-last-event-id-header
 */

/**
 * Decodes the resume id from a `Last-Event-ID` header value and the request URL (path and
 * query, or absolute). Returns `undefined` when there is none.
 *
 * HTTP stacks (Node's `http`, the Fetch API's `Headers`) turn header bytes into a string one
 * byte per character (latin1), while browsers send the id as UTF-8: the bytes are re-decoded as
 * UTF-8 so a non-ASCII id still matches. A value that is not valid UTF-8 is kept as it came.
 */
export function lastEventIdFrom(header: string | undefined, url: string | undefined): string | undefined {
  // An empty id is no id: a client whose last event id is empty sends none ("If the last event
  // ID string is not the empty string, set `Last-Event-ID`"), and treating '' as an id to resume
  // after would report a gap on a first connection.
  if (header !== undefined && header !== '') {
    const bytes = Buffer.from(header, 'latin1');
    const utf8 = bytes.toString('utf8');
    // Keep the latin1 reading only when the bytes were not valid UTF-8 to begin with.
    return Buffer.byteLength(utf8, 'utf8') === bytes.length && Buffer.from(utf8, 'utf8').equals(bytes) ? utf8 : header;
  }
  if (url === undefined) return undefined;
  const q = url.indexOf('?');
  if (q === -1) return undefined;
  const hash = url.indexOf('#', q);
  const value = new URLSearchParams(url.slice(q + 1, hash === -1 ? undefined : hash)).get('lastEventId');
  return value || undefined;
}

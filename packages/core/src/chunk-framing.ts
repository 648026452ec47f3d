/**
 * HTTP/1.1 chunked framing of event bytes, for the Node sink's direct socket writes.
 *
 * `res.write()` frames each chunk as four writes (size, CRLF, data, CRLF), which the socket then
 * joins in a `writev`. Framing the chunk in one buffer instead makes it one plain write. A
 * broadcast hands the same bytes to every connection one after the other, so the last framing
 * is remembered: N connections cost one framing and N writes of the same buffer.
 */

/** Chunks larger than this are framed each time rather than remembered (bounds what stays referenced). */
const MEMO_LIMIT = 64 * 1024;

let memoChunk: Uint8Array | undefined;
let memoFramed: Buffer | undefined;

/**
 * `chunk` framed as one HTTP/1.1 chunk: its size in hex, CRLF, the bytes, CRLF. The chunk must
 * not be empty (an empty chunk ends the body) and must not change after it is written, as for
 * any write to a socket.
 */
export function frameChunk(chunk: Uint8Array): Buffer {
  if (chunk === memoChunk) return memoFramed!;
  const size = chunk.length;
  const hex = size.toString(16);
  const head = hex.length;
  const framed = Buffer.allocUnsafe(head + size + 4);
  framed.write(hex, 0, head, 'latin1');
  framed[head] = 13;
  framed[head + 1] = 10;
  framed.set(chunk, head + 2);
  framed[head + 2 + size] = 13;
  framed[head + 3 + size] = 10;
  if (size <= MEMO_LIMIT) {
    memoChunk = chunk;
    memoFramed = framed;
  }
  return framed;
}

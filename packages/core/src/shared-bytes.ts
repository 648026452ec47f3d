/**
 * Bytes that many connections write alike: the join of events held together and their HTTP/1.1
 * chunk framing, each made once for all the connections that write the same thing.
 *
 * A broadcast hands the same encoded bytes to every connection, one connection after the other,
 * so connections that held the same broadcasts hold the very same buffers in the same order.
 * Remembering the last join and the last framing turns N copies into one, and N connections
 * write one shared buffer.
 *
 * `res.write()` frames each chunk as four pieces (size, CRLF, data, CRLF), which the socket joins
 * in a `writev`; framed in one buffer, a chunk is one plain write.
 */

/** Buffers larger than this are made each time rather than remembered (bounds what stays referenced). */
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

let memoParts: readonly Uint8Array[] | undefined;
let memoJoined: Uint8Array | undefined;

/**
 * `parts` as one buffer of `size` bytes; the very same buffer as the last call's when `parts`
 * holds the same buffers in the same order. `parts` must not change afterwards (the caller lets
 * go of it).
 */
export function joinChunks(parts: readonly Uint8Array[], size: number): Uint8Array {
  const memo = memoParts;
  if (memo !== undefined && memo.length === parts.length) {
    let same = true;
    for (let i = 0; i < parts.length; i++) {
      if (parts[i] !== memo[i]) {
        same = false;
        break;
      }
    }
    if (same) return memoJoined!;
  }
  const joined = Buffer.concat(parts, size);
  if (size <= MEMO_LIMIT) {
    memoParts = parts;
    memoJoined = joined;
  } else {
    memoParts = undefined;
    memoJoined = undefined;
  }
  return joined;
}

/**
 * Requests written by hand on a `node:net` socket: for bytes `node:http` will not send
 * (non-UTF-8 or oversized headers), and for clients that stop reading on purpose (paused right
 * after the request, so the server's writes back up). Everything received is kept as it came,
 * chunked encoding included; `splitResponse` and `dechunk` take it apart.
 */
import net from 'node:net';

/**
 * @typedef {object} RawRequest
 * @property {net.Socket} socket
 * @property {Promise<void>} connected resolves once the request is written; rejects if the
 *   connection fails
 * @property {Promise<Buffer>} response every byte received, once the socket has closed
 * @property {() => Buffer} received every byte received so far
 * @property {() => Promise<Buffer>} drain resumes reading and resolves like `response`
 */

/**
 * Connects to 127.0.0.1 (or `host`), writes `request` and records the answer.
 * @param {number} port
 * @param {string | Uint8Array} request
 * @param {{ host?: string, pause?: boolean }} [options] `pause`: stop reading right after the
 *   request is written (default false)
 * @returns {RawRequest}
 */
export function rawRequest(port, request, { host = '127.0.0.1', pause = false } = {}) {
  const socket = net.connect(port, host);
  /** @type {Buffer[]} */
  const chunks = [];
  socket.on('data', (chunk) => chunks.push(chunk));
  const connected = new Promise((resolve, reject) => {
    socket.once('connect', () => {
      socket.write(request);
      if (pause) socket.pause();
      resolve();
    });
    socket.once('error', reject);
  });
  // Errors after the connect (a reset from the server) end the recording, nothing more.
  connected.catch(() => {});
  socket.on('error', () => {});
  const response = new Promise((resolve) => socket.once('close', () => resolve(Buffer.concat(chunks))));
  return {
    socket,
    connected,
    response,
    received: () => Buffer.concat(chunks),
    drain() {
      socket.resume();
      return response;
    },
  };
}

/**
 * The request line and headers of a stream request.
 * @param {string} path e.g. `/events?topic=a`
 * @param {Record<string, string>} [headers]
 */
export function streamRequest(path, headers = {}) {
  const lines = Object.entries({ Host: '127.0.0.1', Accept: 'text/event-stream', ...headers }).map(([k, v]) => `${k}: ${v}\r\n`);
  return `GET ${path} HTTP/1.1\r\n${lines.join('')}\r\n`;
}

/**
 * Splits a raw HTTP/1.1 response (not chunked-decoded) into head and body bytes.
 * @param {Buffer} buffer
 */
export function splitResponse(buffer) {
  const end = buffer.indexOf('\r\n\r\n');
  if (end === -1) return { head: buffer.toString('latin1'), body: Buffer.alloc(0) };
  return { head: buffer.subarray(0, end).toString('latin1'), body: buffer.subarray(end + 4) };
}

/**
 * Decodes a `Transfer-Encoding: chunked` body, ignoring a truncated last chunk.
 * @param {Buffer} body
 */
export function dechunk(body) {
  const parts = [];
  let at = 0;
  for (;;) {
    const lineEnd = body.indexOf('\r\n', at);
    if (lineEnd === -1) break;
    const size = parseInt(body.subarray(at, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    const start = lineEnd + 2;
    parts.push(body.subarray(start, Math.min(start + size, body.length)));
    if (start + size + 2 > body.length) break;
    at = start + size + 2;
  }
  return Buffer.concat(parts);
}

/**
 * Stress-test clients: a small event-stream parser and two ways to read a stream, one on
 * `node:http` and one on a raw `node:net` socket (for clients that stall on purpose).
 *
 * The parser follows the WHATWG "event stream interpretation" for the fields the scenarios
 * check (`id`, `event`, `data`; comments and `retry` are skipped) and accepts LF, CR and CRLF
 * line ends. It is written for throughput: thousands of streams are parsed in one process.
 * https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 */
import http from 'node:http';
import net from 'node:net';
import { StringDecoder } from 'node:string_decoder';

/** Parses an event stream; calls `onEvent({ id, event, data })` for every dispatched event. */
export class SseParser {
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.decoder = new StringDecoder('utf8');
    this.rest = '';
    // The spec's "last event ID buffer" is set by an `id:` field; the stream's last event id
    // (what EventSource sends back as Last-Event-ID) only takes it when the event is
    // dispatched, so an event cut off mid-way is not counted as received.
    this.idBuffer = undefined;
    this.lastId = undefined;
    this.resetEvent();
  }

  resetEvent() {
    this.data = undefined;
    this.event = undefined;
  }

  push(chunk) {
    let text = this.rest + this.decoder.write(chunk);
    let start = 0;
    for (;;) {
      const lf = text.indexOf('\n', start);
      const cr = text.indexOf('\r', start);
      let end;
      let next;
      if (cr !== -1 && (lf === -1 || cr < lf)) {
        // A CR at the end of the chunk may be the first half of a CRLF: wait for more.
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

  line(line) {
    if (line === '') {
      this.lastId = this.idBuffer;
      if (this.data !== undefined) {
        this.onEvent({ id: this.lastId, event: this.event ?? 'message', data: this.data });
      }
      this.resetEvent();
      return;
    }
    if (line.charCodeAt(0) === 58) return; // ':' comment (heartbeat)
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'data') this.data = this.data === undefined ? value : `${this.data}\n${value}`;
    else if (field === 'id') {
      if (!value.includes('\0')) this.idBuffer = value;
    } else if (field === 'event') this.event = value;
  }
}

/**
 * Opens `GET path` with `node:http` (no agent, one socket per stream). Resolves once the
 * response headers arrived. `onEvent(event)` sees every event; the returned object tracks the
 * status, the last id and whether the stream ended.
 */
export function openStream(port, path, { lastEventId, headers = {}, onEvent = () => {}, timeoutMs = 10_000 } = {}) {
  return new Promise((resolve, reject) => {
    const h = { Accept: 'text/event-stream', ...headers };
    if (lastEventId !== undefined) h['Last-Event-ID'] = lastEventId;
    const req = http.request({ host: '127.0.0.1', port, path, headers: h, agent: false });
    const timer = setTimeout(() => {
      req.destroy(new Error(`no response headers within ${timeoutMs} ms`));
    }, timeoutMs);
    const stream = {
      req,
      res: undefined,
      status: 0,
      ended: false,
      parser: new SseParser((event) => onEvent(event, stream)),
      get lastId() {
        return this.parser.lastId;
      },
      /** Closes from the client side: `reset` sends a TCP RST, `end` a FIN, `destroy` drops. */
      close(mode = 'destroy') {
        const socket = req.socket;
        if (!socket || socket.destroyed) return;
        if (mode === 'reset' && typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
        else if (mode === 'end') socket.end();
        else req.destroy();
      },
      closed: undefined,
    };
    stream.closed = new Promise((done) => req.once('close', done));
    req.on('error', (error) => {
      clearTimeout(timer);
      if (!stream.res) reject(error);
    });
    req.on('response', (res) => {
      clearTimeout(timer);
      stream.res = res;
      stream.status = res.statusCode;
      res.on('data', (chunk) => stream.parser.push(chunk));
      res.on('end', () => (stream.ended = true));
      res.on('error', () => {});
      resolve(stream);
    });
    req.end();
  });
}

/**
 * Sends a raw request on a `node:net` socket: for bytes `node:http` will not send (non-UTF-8
 * headers) and for clients that stop reading (`socket.pause()` right after the request).
 * Everything received is kept in `chunks` and parsed on demand.
 */
export function rawStream(port, requestText, { pause = false } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const raw = {
      socket,
      chunks: [],
      bytes: 0,
      ended: false,
      closed: new Promise((done) => socket.once('close', done)),
      text() {
        return Buffer.concat(this.chunks).toString('latin1');
      },
      /** Resumes reading and resolves once the server has closed the connection. */
      drain() {
        socket.resume();
        return this.closed;
      },
    };
    socket.on('data', (chunk) => {
      raw.chunks.push(chunk);
      raw.bytes += chunk.length;
    });
    socket.on('end', () => (raw.ended = true));
    socket.on('error', () => {});
    socket.once('connect', () => {
      socket.write(requestText);
      if (pause) socket.pause();
      resolve(raw);
    });
    socket.once('error', reject);
  });
}

/** Splits a raw HTTP/1.1 response (not chunked-decoded) into head and body bytes. */
export function splitResponse(buffer) {
  const end = buffer.indexOf('\r\n\r\n');
  if (end === -1) return { head: buffer.toString('latin1'), body: Buffer.alloc(0) };
  return { head: buffer.subarray(0, end).toString('latin1'), body: buffer.subarray(end + 4) };
}

/** Decodes a `Transfer-Encoding: chunked` body, ignoring a truncated last chunk. */
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

/**
 * Stress-test clients: event streams read with `node:http` and parsed by the harness's
 * hand-written reading of the WHATWG algorithm (fast enough for thousands of streams in one
 * process), and raw sockets for clients that stall on purpose (the harness's `rawRequest`).
 */
import http from 'node:http';
import { SpecParser } from '@ssekit/harness/spec-parser';

export { rawRequest, streamRequest, splitResponse, dechunk } from '@ssekit/harness/raw';

/**
 * A parser that reports each event as `{ id, event, data }`: `id` is the stream's last event
 * ID when the event fired (`undefined` while there is none), `event` its type.
 * @param {(event: { id: string | undefined, event: string, data: string }) => void} onEvent
 */
export function eventParser(onEvent) {
  return new SpecParser({ onMessage: (m) => onEvent({ id: m.lastEventId === '' ? undefined : m.lastEventId, event: m.type, data: m.data }) });
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
      parser: eventParser((event) => onEvent(event, stream)),
      get lastId() {
        return this.parser.lastEventId === '' ? undefined : this.parser.lastEventId;
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

/**
 * The recording event-stream client every suite uses, over HTTP/1.1 (`node:http`) or cleartext
 * HTTP/2: any request header, every event (eventsource-parser), comment and `retry:` field
 * recorded, a gzip body decompressed as it streams, the body text (and its bytes when asked).
 * A test awaits what it expects with a bound: `next`, `take`, `waitFor`, `waitForEvents`,
 * `waitEnd` reject after their timeout, and at once when the stream ends short. Every client
 * is closed by the cleanup registry.
 */
import * as http from 'node:http';
import * as http2 from 'node:http2';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { track } from './cleanup';

export type { EventSourceMessage };

/** How long a wait lasts when the test gives no bound. */
const DEFAULT_WAIT_MS = 5000;

/** A comment line the client saw, with its arrival time (`Date.now()`). */
export interface SeenComment {
  text: string;
  at: number;
}

/** Options of {@link connect} and {@link connectH2}. */
export interface ConnectOptions {
  /** Also keep the body's bytes in {@link SseClient.bytes} (after gzip decoding). Default false. */
  raw?: boolean;
  /** Bound on the response headers. Default 5000 ms. */
  timeoutMs?: number;
}

/** One open event stream as a test sees it. */
export interface SseClient {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  /** Every event received so far, in order. */
  readonly events: readonly EventSourceMessage[];
  readonly comments: readonly SeenComment[];
  /** `retry:` values, in order. */
  readonly retries: readonly number[];
  /** The body received so far, decoded as UTF-8. */
  readonly text: string;
  /** The body's bytes so far; empty unless asked for with `raw: true`. */
  readonly bytes: Buffer;
  /** The client's socket (HTTP/1.1), to end it politely or reset it. */
  readonly socket: Socket | undefined;
  /** True once the server ended the response cleanly. */
  readonly ended: boolean;
  /** False once the stream is over, however it ended. */
  readonly open: boolean;
  /** Resolves once the stream is over (ended, dropped or failed) and its body fully parsed. */
  readonly closed: Promise<void>;
  /** The next event not yet taken by `next()` or `take()`. */
  next(timeoutMs?: number): Promise<EventSourceMessage>;
  /** The next `n` events not yet taken. */
  take(n: number, timeoutMs?: number): Promise<EventSourceMessage[]>;
  /** Events received but not taken by `next()` or `take()`. */
  rest(): EventSourceMessage[];
  /** The first recorded event (taken or not) that matches. */
  waitFor(match: (event: EventSourceMessage) => boolean, timeoutMs?: number): Promise<EventSourceMessage>;
  /** Every event recorded, once there are at least `n`. */
  waitForEvents(n: number, timeoutMs?: number): Promise<readonly EventSourceMessage[]>;
  /** The text of the next comment not yet taken. */
  nextComment(timeoutMs?: number): Promise<string>;
  /** The next `retry:` value not yet taken. */
  nextRetry(timeoutMs?: number): Promise<number>;
  /** Resolves once the stream is over. */
  waitEnd(timeoutMs?: number): Promise<void>;
  /** Drops the connection (idempotent). */
  close(): void;
  /** Drops the connection with a TCP reset (HTTP/1.1; HTTP/2 drops the session). */
  reset(): void;
}

class Recording implements SseClient {
  readonly events: EventSourceMessage[] = [];
  readonly comments: SeenComment[] = [];
  readonly retries: number[] = [];
  text = '';
  ended = false;
  readonly closed: Promise<void>;
  private readonly chunks: Buffer[] | undefined;
  private eventCursor = 0;
  private commentCursor = 0;
  private retryCursor = 0;
  private over = false;
  private readonly wakers = new Set<() => void>();
  private readonly decoder = new TextDecoder();
  private readonly parser = createParser({
    onEvent: (event) => {
      this.events.push(event);
      this.wake();
    },
    onComment: (text) => {
      this.comments.push({ text, at: Date.now() });
      this.wake();
    },
    onRetry: (ms) => {
      this.retries.push(ms);
      this.wake();
    },
  });
  private finish!: () => void;

  constructor(
    readonly status: number,
    readonly headers: http.IncomingHttpHeaders,
    readonly socket: Socket | undefined,
    private readonly drop: () => void,
    private readonly rst: () => void,
    raw: boolean,
  ) {
    this.chunks = raw ? [] : undefined;
    this.closed = new Promise<void>((resolve) => {
      this.finish = () => {
        if (this.over) return;
        this.over = true;
        this.wake();
        resolve();
      };
    });
  }

  get bytes(): Buffer {
    return this.chunks ? Buffer.concat(this.chunks) : Buffer.alloc(0);
  }

  get open(): boolean {
    return !this.over;
  }

  /**
   * Reads `body` (the response, or its gunzip stream). `response` is the HTTP message itself:
   * its `end` is the clean end; the recording is over once the body has been parsed.
   */
  attach(response: Readable, body: Readable & { writableEnded?: boolean }): void {
    body.on('data', (chunk: Buffer) => {
      this.chunks?.push(chunk);
      const text = this.decoder.decode(chunk, { stream: true });
      this.text += text;
      this.parser.feed(text);
    });
    response.once('end', () => (this.ended = true));
    response.on('error', () => {});
    body.on('error', () => this.finish());
    body.once('end', () => this.finish());
    body.once('close', () => this.finish());
    if (body !== response) {
      // An aborted response never ends its gunzip stream: end it, so that what was inflated
      // so far is parsed and the recording closes.
      response.once('close', () => {
        if (!body.writableEnded) (body as zlib.Gunzip).end();
      });
    }
  }

  private wake(): void {
    for (const wake of [...this.wakers]) wake();
  }

  private describe(): string {
    const last = this.events.slice(-5);
    return `${this.events.length} events${last.length > 0 ? `, last ${JSON.stringify(last)}` : ''}`;
  }

  /** Waits (bounded) until `ready()` returns a value; fails at once when the stream is over. */
  private until<T>(ready: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const now = ready();
    if (now !== undefined) return Promise.resolve(now);
    if (this.over) return Promise.reject(new Error(`the stream ended before ${what} (got ${this.describe()})`));
    return new Promise<T>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wakers.delete(wake);
      };
      const wake = (): void => {
        const value = ready();
        if (value !== undefined) {
          done();
          resolve(value);
        } else if (this.over) {
          done();
          reject(new Error(`the stream ended before ${what} (got ${this.describe()})`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (got ${this.describe()})`));
      }, timeoutMs);
      this.wakers.add(wake);
    });
  }

  next(timeoutMs = DEFAULT_WAIT_MS): Promise<EventSourceMessage> {
    return this.until(() => (this.eventCursor < this.events.length ? this.events[this.eventCursor++] : undefined), timeoutMs, 'the next event');
  }

  async take(n: number, timeoutMs = DEFAULT_WAIT_MS): Promise<EventSourceMessage[]> {
    await this.until(() => (this.events.length - this.eventCursor >= n ? true : undefined), timeoutMs, `${n} more events`);
    const taken = this.events.slice(this.eventCursor, this.eventCursor + n);
    this.eventCursor += n;
    return taken;
  }

  rest(): EventSourceMessage[] {
    return this.events.slice(this.eventCursor);
  }

  waitFor(match: (event: EventSourceMessage) => boolean, timeoutMs = DEFAULT_WAIT_MS): Promise<EventSourceMessage> {
    let checked = 0;
    return this.until(
      () => {
        for (; checked < this.events.length; checked++) if (match(this.events[checked]!)) return this.events[checked];
        return undefined;
      },
      timeoutMs,
      'a matching event',
    );
  }

  waitForEvents(n: number, timeoutMs = DEFAULT_WAIT_MS): Promise<readonly EventSourceMessage[]> {
    return this.until(() => (this.events.length >= n ? this.events : undefined), timeoutMs, `${n} events`);
  }

  nextComment(timeoutMs = DEFAULT_WAIT_MS): Promise<string> {
    return this.until(() => (this.commentCursor < this.comments.length ? this.comments[this.commentCursor++]!.text : undefined), timeoutMs, 'a comment');
  }

  nextRetry(timeoutMs = DEFAULT_WAIT_MS): Promise<number> {
    return this.until(() => (this.retryCursor < this.retries.length ? this.retries[this.retryCursor++] : undefined), timeoutMs, 'a retry field');
  }

  async waitEnd(timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    await this.until(() => (this.over ? true : undefined), timeoutMs, 'the end of the stream');
  }

  close(): void {
    this.drop();
  }

  reset(): void {
    this.rst();
  }
}

/** The readable to parse: the response itself, or a gunzip stream over it. */
function bodyOf(response: Readable, encoding: string | string[] | undefined): Readable {
  if (encoding === undefined || encoding === 'identity') return response;
  if (encoding === 'gzip') return response.pipe(zlib.createGunzip({ flush: zlib.constants.Z_SYNC_FLUSH }));
  throw new Error(`unexpected content-encoding ${String(encoding)}`);
}

/**
 * Opens an event stream over HTTP/1.1 (`Accept: text/event-stream` plus `headers`) and
 * resolves once the response headers arrived, whatever the status.
 */
export function connect(url: string, headers: http.OutgoingHttpHeaders = {}, options: ConnectOptions = {}): Promise<SseClient> {
  const { raw = false, timeoutMs = 5000 } = options;
  return new Promise((resolve, reject) => {
    // agent: false gives every request its own socket, so closing one never affects another.
    const req = http.request(url, { headers: { accept: 'text/event-stream', ...headers }, agent: false });
    track(() => req.destroy());
    const timer = setTimeout(() => req.destroy(new Error(`no response headers from ${url} within ${timeoutMs} ms`)), timeoutMs);
    req.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.once('response', (res) => {
      clearTimeout(timer);
      req.on('error', () => {});
      const socket = req.socket ?? undefined;
      const recording = new Recording(
        res.statusCode ?? 0,
        res.headers,
        socket,
        () => {
          req.destroy();
          res.destroy();
        },
        () => (socket && !socket.destroyed ? socket.resetAndDestroy() : req.destroy()),
        raw,
      );
      try {
        recording.attach(res, bodyOf(res, res.headers['content-encoding']));
      } catch (error) {
        req.destroy();
        reject(error);
        return;
      }
      resolve(recording);
    });
    req.end();
  });
}

/**
 * Opens an event stream over cleartext HTTP/2 (its own session) at `path` and resolves once
 * the response headers arrived.
 */
export function connectH2(url: string, path = '/', headers: http2.OutgoingHttpHeaders = {}, options: ConnectOptions = {}): Promise<SseClient> {
  const { raw = false, timeoutMs = 5000 } = options;
  return new Promise((resolve, reject) => {
    const session = http2.connect(url);
    track(() => session.destroy());
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error(`no response headers from ${url}${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    const fail = (error: Error): void => {
      clearTimeout(timer);
      reject(error);
    };
    session.once('error', fail);
    const stream = session.request({ ':path': path, accept: 'text/event-stream', ...headers });
    stream.once('error', fail);
    stream.once('response', (responseHeaders) => {
      clearTimeout(timer);
      session.on('error', () => {});
      stream.on('error', () => {});
      const recording = new Recording(
        Number(responseHeaders[':status']),
        responseHeaders as http.IncomingHttpHeaders,
        undefined,
        () => session.destroy(),
        () => session.destroy(),
        raw,
      );
      try {
        recording.attach(stream, bodyOf(stream, responseHeaders['content-encoding']));
      } catch (error) {
        session.destroy();
        reject(error);
        return;
      }
      resolve(recording);
    });
  });
}

/** A plain (non-stream) response. */
export interface PlainResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Sends a GET and reads the whole body (bounded): for refused requests and error responses. */
export function fetchPlain(url: string, headers: http.OutgoingHttpHeaders = {}, timeoutMs = 5000): Promise<PlainResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { headers, agent: false });
    track(() => req.destroy());
    const timer = setTimeout(() => req.destroy(new Error(`no complete response from ${url} within ${timeoutMs} ms`)), timeoutMs);
    req.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.once('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
        req.destroy();
      });
    });
    req.end();
  });
}

/**
 * A stream's own connection: `fetch`, read, parse, and reconnect with `Last-Event-ID` after
 * anything that can be retried.
 *
 * What the status of a response means:
 * - 204: the server says there is nothing more: `done`, no reconnect;
 * - other 2xx with `text/event-stream`: the stream; with another content type: an error, no
 *   reconnect (the URL is not an event stream);
 * - 5xx and 429: reconnect, never before `Retry-After` (seconds or an HTTP date);
 * - any other status: an error carrying the status and body, no reconnect (retrying a 401 or a
 *   404 would only repeat it).
 * A network error, a body that breaks, a silent connection (`heartbeatTimeoutMs`) and a stream
 * the server ends are all retried.
 */
import { parseRetryAfter, reconnectDelay } from './backoff.js';
import { SseClientError } from './errors.js';
import type { ResolvedOptions } from './options.js';
import { createEventStreamParser } from './parser.js';
import { buildRequest } from './request.js';
import type { Source, SourceSink } from './source.js';

/** Error bodies are kept up to this many characters. */
const MAX_ERROR_BODY = 65_536;
const EVENT_STREAM = 'text/event-stream';

/** Can the request that failed with `error` be tried again? */
function retryable({ code, status = 0 }: SseClientError): boolean {
  return code === 'status' ? status >= 500 || status === 429 : code !== 'content-type';
}

/**
 * The error for a response that is not a stream, with the start of its body: a body that never
 * ends (a stream sent with the wrong status) must not be read forever.
 */
async function refused(response: Response, code: 'status' | 'content-type', message: string): Promise<SseClientError> {
  const reader = response.body?.getReader();
  const decoder = new TextDecoder();
  let body = '';
  try {
    while (reader && body.length < MAX_ERROR_BODY) {
      const { done, value } = await reader.read();
      if (done) break;
      body += decoder.decode(value, { stream: true });
    }
  } catch {
    // What arrived explains the error well enough.
  }
  // The rest of the body is dropped with the request.
  return new SseClientError(code, message, { status: response.status, body: body.slice(0, MAX_ERROR_BODY) });
}

/**
 * The private connection of one stream.
 * @param lastEventId - the id the first connect resumes after (`''` for none).
 */
export function createPrivateSource(url: URL, options: ResolvedOptions, sink: SourceSink, lastEventId: string): Source {
  const { retry, heartbeatTimeoutMs } = options;
  /** The reconnection time: `retry.initialMs` until the server sends `retry:`. */
  let baseMs = retry === false ? 0 : retry.initialMs;
  let stopped = false;
  /** Requests made so far (the `attempt` given to option functions). */
  let requests = 0;
  let opened = 0;
  let controller: AbortController | undefined;
  let watchdog: ReturnType<typeof setTimeout> | undefined;
  let lastByteAt = 0;
  let timedOut = false;
  let sleep: ReturnType<typeof setTimeout> | undefined;
  let wake: (() => void) | undefined;
  /** The last response's `Retry-After`, in milliseconds. */
  let retryAfterMs: number | undefined;
  /** The last connection delivered events, or lasted longer than the longest backoff. */
  let healthy = false;

  function stop(): void {
    if (stopped) return;
    stopped = true;
    controller?.abort();
    clearTimeout(watchdog);
    clearTimeout(sleep);
    wake?.();
  }

  function end(reason: 'done' | 'error' | 'ended', error?: SseClientError): void {
    stop();
    sink.end(reason, error, reason === 'done' ? 204 : error?.status);
  }

  async function run(): Promise<void> {
    /** Failures in a row. */
    let failures = 0;
    while (!stopped) {
      retryAfterMs = undefined;
      healthy = false;
      const error = await connectOnce();
      if (stopped) return;
      if (error === null) return end('done');
      if (healthy) failures = 0;
      failures++;
      if (retry === false || !retryable(error)) {
        // Without retries, a stream that simply ended is over, not failed.
        if (retry === false && error.code === 'ended') return end('ended');
        sink.error(error, { willRetry: false, fatal: true, delayMs: undefined, attempt: failures });
        return end('error', error);
      }
      const delayMs = reconnectDelay(failures - 1, baseMs, retry, retryAfterMs, Math.random());
      sink.error(error, { willRetry: true, fatal: false, delayMs, attempt: failures });
      if (stopped) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
        sleep = setTimeout(resolve, delayMs);
      });
    }
  }

  /**
   * One timer per connection, not one per chunk: chunks only note the time, and the timer,
   * when it fires early, sleeps again for what is left.
   */
  function armWatchdog(): void {
    lastByteAt = Date.now();
    if (heartbeatTimeoutMs === 0) return;
    const check = (): void => {
      const idle = Date.now() - lastByteAt;
      if (idle < heartbeatTimeoutMs) {
        watchdog = setTimeout(check, heartbeatTimeoutMs - idle);
      } else {
        timedOut = true;
        controller?.abort();
      }
    };
    watchdog = setTimeout(check, heartbeatTimeoutMs);
  }

  /** The error for a request or body that failed: a silent connection, or the network. */
  function lost(cause: unknown): SseClientError {
    if (timedOut) return new SseClientError('timeout', `No data for ${heartbeatTimeoutMs} ms`);
    return new SseClientError('network', `Network error: ${(cause as Error | undefined)?.message ?? cause}`, { cause });
  }

  /**
   * One request, from building it to the end of its body.
   * @returns `null` for a 204, else why the connection ended.
   */
  async function connectOnce(): Promise<SseClientError | null> {
    const current = (controller = new AbortController());
    timedOut = false;
    armWatchdog();
    const sentId = lastEventId;
    try {
      let request;
      try {
        request = await buildRequest(url, options, { attempt: requests, lastEventId: sentId || undefined }, current.signal);
      } catch (cause) {
        return new SseClientError('request', `Request not built: ${String(cause)}`, { cause });
      }
      requests++;
      const fetch = options.fetch;
      let response: Response;
      try {
        response = await fetch(request.url, request.init);
      } catch (cause) {
        return lost(cause);
      }
      lastByteAt = Date.now();
      const { status } = response;
      if (status === 204) return null;
      if (status < 200 || status > 299) {
        retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), Date.now());
        return await refused(response, 'status', `The server answered ${status} ${response.statusText}`.trimEnd());
      }
      const type = response.headers.get('content-type');
      if (type?.split(';', 1)[0]!.trim().toLowerCase() !== EVENT_STREAM) {
        return await refused(response, 'content-type', `Expected ${EVENT_STREAM}, got ${type ?? 'no Content-Type'}`);
      }
      return await read(response, sentId);
    } finally {
      clearTimeout(watchdog);
      // Releases the request and its body whatever happened to them.
      current.abort();
    }
  }

  /** Reads and parses the body of an open stream until it ends or fails. */
  async function read(response: Response, sentId: string): Promise<SseClientError> {
    const openedAt = Date.now();
    let events = 0;
    sink.open({ status: response.status, lastEventId: sentId || undefined, reconnect: opened++ > 0 });
    const parser = createEventStreamParser(
      {
        onEvent(event) {
          events++;
          lastEventId = event.lastEventId;
          if (!stopped) sink.event(event);
        },
        onRetry(ms) {
          baseMs = ms;
        },
      },
      sentId,
    );
    // The parser drops the one BOM the spec allows; the decoder must not drop it first.
    const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
    const reader = response.body?.getReader();
    let error: SseClientError;
    try {
      while (reader && !stopped) {
        const { done, value } = await reader.read();
        if (done) break;
        lastByteAt = Date.now();
        parser.feed(decoder.decode(value, { stream: true }));
        // A block with only an id moves the position too.
        lastEventId = parser.lastEventId;
      }
      // An unfinished event at the end is discarded, as the spec says: what is left in the
      // parser and the decoder (at most the start of a character) is dropped with them.
      error = new SseClientError('ended', 'The server ended the stream');
    } catch (cause) {
      error = lost(cause);
    }
    // A connection that delivered events, or lasted longer than the longest backoff, was a
    // success: the next failure starts the backoff again from the base.
    healthy = events > 0 || (retry !== false && Date.now() - openedAt >= retry.maxMs);
    return error;
  }

  return {
    role: 'private',
    get lastEventId() {
      return lastEventId;
    },
    start() {
      void run();
    },
    stop,
  };
}

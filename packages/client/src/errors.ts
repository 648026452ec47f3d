/**
 * Errors of `@ssekit/client`. Every error is an {@link SseClientError} with a string-literal
 * `code`, so callers can branch on `error.code` without `instanceof` across package copies.
 */

/**
 * What went wrong:
 * - `options`: `connect()` was given an option it does not know or a value it cannot use
 *   (thrown, see {@link SseOptionsError});
 * - `network`: the request failed or the body stopped with an error;
 * - `ended`: the server ended the stream;
 * - `timeout`: no byte arrived for `heartbeatTimeoutMs`;
 * - `status`: the server answered with a status other than 2xx (`status` and `body` are set);
 * - `content-type`: a 2xx answer that is not `text/event-stream`;
 * - `request`: a `headers`, `query` or `body` function threw or rejected;
 * - `parse`: an event's data could not be parsed as the `parse` option asks (the event is
 *   dropped, the stream goes on).
 */
export type SseClientErrorCode = 'options' | 'network' | 'ended' | 'timeout' | 'status' | 'content-type' | 'request' | 'parse';

/** Fields of an {@link SseClientError} besides its code and message. */
export interface SseClientErrorDetails {
  /** The HTTP status, for `status` and `content-type` errors. */
  status?: number | undefined;
  /** The response body as text (at most 64 KiB), for `status` and `content-type` errors. */
  body?: string | undefined;
  /** The underlying error. */
  cause?: unknown;
}

/** Base class of every error `@ssekit/client` reports. */
export class SseClientError extends Error {
  /** What went wrong, as a stable machine-readable string. */
  readonly code: SseClientErrorCode;
  /** The HTTP status, for `status` and `content-type` errors. */
  readonly status: number | undefined;
  /** The response body as text (at most 64 KiB), for `status` and `content-type` errors. */
  readonly body: string | undefined;

  constructor(code: SseClientErrorCode, message: string, details: SseClientErrorDetails = {}) {
    // Error copies `cause` only when `details` has one.
    super(message, details);
    this.name = new.target.name;
    this.code = code;
    this.status = details.status;
    this.body = details.body;
  }
}

/** Invalid options passed to `connect()`; thrown before anything is requested. */
export class SseOptionsError extends SseClientError {
  /** The option that was rejected (`retry.factor` for a nested one). */
  readonly option: string;
  /** The rejected value. */
  readonly value: unknown;

  constructor(option: string, value: unknown, reason: string) {
    super('options', `Invalid option "${option}": ${reason}`);
    this.option = option;
    this.value = value;
  }
}

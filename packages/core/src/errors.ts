/**
 * Errors thrown by ssekit. Every error is an {@link SseError} with a string-literal `code`, so
 * callers can branch on `err.code` without `instanceof` across package copies.
 */

/** The kinds of error ssekit raises. */
export type SseErrorCode = 'format' | 'closed' | 'options' | 'unavailable' | 'rejected';

/** Base class of every ssekit error. */
export class SseError extends Error {
  /** What went wrong, as a stable machine-readable string. */
  readonly code: SseErrorCode;

  constructor(code: SseErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The event field that could not be encoded. */
export type SseField = 'id' | 'event' | 'data' | 'retry' | 'comment' | 'topic';

/**
 * An event (or comment) that cannot be represented on the wire without changing its meaning,
 * for example an `event` name containing a line break, which would let one field inject others.
 * Thrown before anything is written, so the stream is never corrupted.
 */
export class SseFormatError extends SseError {
  /** The offending field. */
  readonly field: SseField;
  /** The rejected value. */
  readonly value: unknown;

  constructor(field: SseField, value: unknown, reason: string) {
    super('format', `Invalid SSE ${field}: ${reason}`);
    this.field = field;
    this.value = value;
  }
}

/** Why a connection closed. */
export type CloseReason = 'client' | 'server' | 'slow' | 'error';

/** Raised by writes on a connection that has already closed. */
export class SseClosedError extends SseError {
  /** Why the connection closed. */
  readonly reason: CloseReason;

  constructor(reason: CloseReason) {
    super('closed', `SSE connection is closed (reason: ${reason})`);
    this.reason = reason;
  }
}

/** Invalid options passed to a factory or constructor; thrown at setup time. */
export class SseOptionsError extends SseError {
  /** The option that was rejected. */
  readonly option: string;
  /** The rejected value. */
  readonly value: unknown;

  constructor(option: string, value: unknown, reason: string) {
    super('options', `Invalid option "${option}": ${reason}`);
    this.option = option;
    this.value = value;
  }
}

/**
 * A backend (for example Redis) could not accept an operation. The operation did not take
 * effect: a rejected broadcast was delivered to nobody.
 */
export class SseUnavailableError extends SseError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('unavailable', message, options);
  }
}

/**
 * A request refused before its stream opened: a bad topic (400), a refused authorization
 * (403, or 401 thrown by the app's own `authorize`), or a connection limit (503 or 429, with
 * `Retry-After`). Nothing was written to the response: the framework's error handling answers
 * with `status` and `headers`, as it does for any HTTP error (`status`, `statusCode`, `expose`
 * and `headers` are the fields Express, Fastify and Koa read).
 */
export class SseHttpError extends SseError {
  /** The HTTP status to answer with. */
  readonly status: number;
  /** Same as {@link SseHttpError.status}, for frameworks that read `statusCode`. */
  readonly statusCode: number;
  /** The message is safe to show to the client. */
  readonly expose = true;
  /** Headers to send with the error response, such as `Retry-After`. */
  readonly headers: Record<string, string>;

  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super('rejected', message);
    this.status = status;
    this.statusCode = status;
    this.headers = headers;
  }
}

import type { StandardSchemaIssue } from './standard-schema.js';

/**
 * Errors thrown by ssekit. Every error is an {@link SseError} with a string-literal `code`, so
 * callers can branch on `err.code`. `instanceof` works too, also across the ESM and CommonJS
 * builds (two copies of each class when an app loads both): instances carry a brand that
 * every copy recognises.
 */

/** The kinds of error ssekit raises. */
export type SseErrorCode = 'format' | 'closed' | 'options' | 'unavailable' | 'http' | 'validation';

/** On an error: the brand ids of its class and of every ssekit class above it. */
const BRANDS: unique symbol = Symbol.for('ssekit.error.brands');
/** On an error class: its brand id. */
const BRAND_ID: unique symbol = Symbol.for('ssekit.error.id');

type Branded = { readonly [BRAND_ID]?: string };

/**
 * Gives an error class (a subclass of {@link SseError}) a brand id, so that `instanceof` of any
 * copy of the class (the ESM and the CommonJS build of one package) recognises instances made
 * by any other copy. Call it once, right after the class; `id` must be unique, for example
 * `'<package>:<class>'`.
 */
export function brandError(errorClass: abstract new (...args: never[]) => SseError, id: string): void {
  Object.defineProperty(errorClass, BRAND_ID, { value: id });
}

/** Brand ids of `errorClass` and the ssekit classes it extends. */
function brandsOf(errorClass: object): readonly string[] {
  const ids: string[] = [];
  for (let c: object | null = errorClass; c !== null && c !== Error && c !== Function.prototype; c = Object.getPrototypeOf(c) as object | null) {
    if (Object.hasOwn(c, BRAND_ID)) ids.push((c as Branded)[BRAND_ID]!);
  }
  return ids;
}

/** Base class of every ssekit error. */
export class SseError extends Error {
  /**
   * `value instanceof C` for `SseError` and its subclasses: true for instances of this copy of
   * `C` (the usual prototype check), and for instances made by another copy of the same class.
   */
  static override [Symbol.hasInstance]<T>(this: abstract new (...args: never[]) => T, value: unknown): value is T {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    const id = Object.hasOwn(this, BRAND_ID) ? (this as Branded)[BRAND_ID] : undefined;
    if (id === undefined || typeof value !== 'object' || value === null) return false;
    const brands = (value as { [BRANDS]?: unknown })[BRANDS];
    return Array.isArray(brands) && brands.includes(id);
  }

  /** What went wrong, as a stable machine-readable string. */
  readonly code: SseErrorCode;

  constructor(code: SseErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    Object.defineProperty(this, BRANDS, { value: brandsOf(new.target) });
  }
}
brandError(SseError, '@ssekit/core:SseError');

/** The event field (or the comment, or the topic name) that could not be encoded. */
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
brandError(SseFormatError, '@ssekit/core:SseFormatError');

/** Why a connection closed. */
export type CloseReason = 'client' | 'server' | 'slow' | 'error';

/**
 * A connection has closed: the reason of its `signal`'s abort. Writes on a closed connection
 * do not throw it; they resolve `false`.
 */
export class SseClosedError extends SseError {
  /** Why the connection closed. */
  readonly reason: CloseReason;

  constructor(reason: CloseReason) {
    super('closed', `SSE connection is closed (reason: ${reason})`);
    this.reason = reason;
  }
}
brandError(SseClosedError, '@ssekit/core:SseClosedError');

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
brandError(SseOptionsError, '@ssekit/core:SseOptionsError');

/**
 * A backend (for example Redis) could not accept an operation. The operation did not take
 * effect: a rejected broadcast was delivered to nobody.
 *
 * It answers a request as 503 Service Unavailable with `Retry-After` (`status`, `statusCode`,
 * `headers`), so a framework's default error handler, reached by a route that broadcasts and
 * does not catch, answers correctly. Its message may name the backend's state and is not meant
 * for clients (`expose: false`).
 */
export class SseUnavailableError extends SseError {
  /** The HTTP status a request failing with this error answers with: 503. */
  readonly status: number = 503;
  /** Same as {@link SseUnavailableError.status}, for frameworks that read `statusCode`. */
  readonly statusCode: number = 503;
  /** The message is not shown to clients. */
  readonly expose: boolean = false;
  /** Headers of the error response: `Retry-After`. */
  readonly headers: Record<string, string>;

  /**
   * @param options.retryAfterSeconds - the `Retry-After` value. @defaultValue 5
   */
  constructor(message: string, options?: { cause?: unknown; retryAfterSeconds?: number }) {
    super('unavailable', message, options);
    this.headers = { 'Retry-After': String(options?.retryAfterSeconds ?? 5) };
  }
}
brandError(SseUnavailableError, '@ssekit/core:SseUnavailableError');

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
    super('http', message);
    this.status = status;
    this.statusCode = status;
    this.headers = headers;
  }
}
brandError(SseHttpError, '@ssekit/core:SseHttpError');

/**
 * An event whose data its schema (the `schemas` option) rejects. Thrown before anything is
 * stored or written: no replayer holds the event and no connection received it.
 */
export class SseValidationError extends SseError {
  /** The event name (`message` for an event without one). */
  readonly event: string;
  /** What the schema found wrong. */
  readonly issues: ReadonlyArray<StandardSchemaIssue>;
  /** The rejected data. */
  readonly data: unknown;

  constructor(event: string, issues: ReadonlyArray<StandardSchemaIssue>, data: unknown) {
    const first = issues[0];
    const where = first?.path?.length ? ` at ${first.path.map((p) => String(typeof p === 'object' ? p.key : p)).join('.')}` : '';
    super('validation', `Invalid data for SSE event "${event}"${first ? `: ${first.message}${where}` : ''}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ''}`);
    this.event = event;
    this.issues = issues;
    this.data = data;
  }
}
brandError(SseValidationError, '@ssekit/core:SseValidationError');

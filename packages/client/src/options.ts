/**
 * The options of `connect()`, their defaults, and their validation. A typo in an option name
 * throws instead of being silently ignored.
 */
import { SseOptionsError } from './errors.js';

/** What a `headers`, `query` or `body` function is told about the request it is building. */
export interface RequestContext {
  /** `0` for the first connection, then `1`, `2`, ... for each reconnect. */
  readonly attempt: number;
  /** The id the request resumes after (sent as `Last-Event-ID`), if any. */
  readonly lastEventId: string | undefined;
}

/** A value, or a function called on every connect that returns it (or a promise of it). */
export type PerRequest<T> = T | ((context: RequestContext) => T | Promise<T>);

/** Request headers; an `undefined` value sends no header (handy for an optional token). */
export type HeaderValues = Record<string, string | undefined>;

/** A query parameter: a scalar, or a list sent as repeated parameters; `undefined`/`null` are left out. */
export type QueryValue = string | number | boolean | null | undefined | readonly (string | number | boolean)[];

/** Query parameters added to the URL (replacing parameters of the same name already in it). */
export type QueryValues = Record<string, QueryValue>;

/** A request body, as `fetch` takes it. */
export type RequestBody = NonNullable<RequestInit['body']>;

/** How event data is turned into the `data` listeners receive. */
export type ParseMode = 'auto' | 'json' | 'text' | ((text: string, event: string) => unknown);

/** Reconnection timing. */
export interface RetryOptions {
  /**
   * Delay before the first reconnect, in milliseconds, until the server sends `retry:`, which
   * then replaces it as the base of the backoff.
   * @defaultValue 1000
   */
  initialMs?: number;
  /**
   * Longest delay the backoff grows to (a server `retry:` or `Retry-After` above it is still honoured).
   * @defaultValue 30000
   */
  maxMs?: number;
  /**
   * Each failed attempt in a row multiplies the delay by this (`1` = a fixed delay).
   * @defaultValue 2
   */
  factor?: number;
  /**
   * Fraction of each delay that is random, from `0` (none: every client comes back at the same
   * instant) to `1` (anywhere between 0 and the delay). With `0.5` a delay `d` becomes a
   * uniform pick in `[d/2, d]`.
   * @defaultValue 0.5
   */
  jitter?: number;
}

/** Options of `connect()`. Every option is optional. */
export interface ConnectOptions {
  /**
   * Request headers, or a function returning them, called before every connect (so a token can
   * be refreshed). `Accept: text/event-stream` and `Last-Event-ID` are added.
   * @defaultValue none
   */
  headers?: PerRequest<HeaderValues>;
  /**
   * Query parameters added to the URL, or a function returning them, called before every connect.
   * @defaultValue none
   */
  query?: PerRequest<QueryValues>;
  /**
   * The id to resume after on the first connect (sent as `Last-Event-ID`), for example the id a
   * snapshot is current to. Later connects send the last id received.
   * @defaultValue none
   */
  lastEventId?: string;
  /**
   * Reconnection timing: exponential backoff with jitter. `false` never reconnects: the stream
   * closes (reason `ended`, or `error`) the first time its connection ends, which suits a POST
   * that must not be sent twice.
   * @defaultValue `{ initialMs: 1000, maxMs: 30000, factor: 2, jitter: 0.5 }`
   */
  retry?: RetryOptions | false;
  /**
   * Reconnect when no byte arrives for this long, in milliseconds (a half-open connection
   * delivers nothing and reports nothing). ssekit servers send a heartbeat every 15 s and stay
   * silent at most twice that; `0` turns the watchdog off.
   * @defaultValue 45000
   */
  heartbeatTimeoutMs?: number;
  /**
   * The HTTP method.
   * @defaultValue `'GET'`
   */
  method?: string;
  /**
   * The request body (for POST streams), or a function returning it, called before every
   * connect (a stream body can be sent only once).
   * @defaultValue none
   */
  body?: PerRequest<RequestBody>;
  /**
   * Whether cookies go with a cross-origin request (`EventSource`'s `withCredentials: true` is
   * `'include'`).
   * @defaultValue `'same-origin'`
   */
  credentials?: RequestInit['credentials'];
  /**
   * How event data becomes `data`:
   * - `'auto'`: data that looks like JSON (starts with `{`, `[`, `"`, `-` or a digit, or is
   *   exactly `true`, `false` or `null`) and parses as JSON arrives parsed; anything else
   *   arrives as the string it is. A text payload that happens to be valid JSON (`"42"`)
   *   arrives parsed: use `'text'` or a function where that matters;
   * - `'json'`: every event's data is parsed as JSON; data that does not parse is reported as
   *   an `error` (code `parse`) and the event is dropped;
   * - `'text'`: data arrives as a string;
   * - a function `(text, event) => data`: your own decision per event (if it throws, as `'json'`).
   * @defaultValue `'auto'`
   */
  parse?: ParseMode;
  /**
   * The event name the server sends when it cannot replay what the client missed; it arrives
   * as the `gap` event instead of as a server event. `false`: no event is treated as a gap.
   * @defaultValue `'ssekit-reset'`
   */
  resetEvent?: string | false;
  /**
   * The `fetch` to use (a wrapper that logs or signs, or a polyfill).
   * @defaultValue `globalThis.fetch`
   */
  fetch?: typeof fetch;
  /**
   * Closes the stream when it aborts (close reason `abort`).
   * @defaultValue none
   */
  signal?: AbortSignal;
  /**
   * Browsers: every stream of this origin with the same method and URL (and `shared: true`)
   * shares one connection, whichever tab it is in. One tab holds the connection (a Web Lock
   * elects it) and hands every event to the others over a `BroadcastChannel`; when it closes,
   * another takes over and resumes after the last id, so nothing is lost or received twice.
   * Where Web Locks or `BroadcastChannel` are missing (Node.js), the stream has its own
   * connection.
   * @defaultValue false
   */
  shared?: boolean;
}

/** {@link ConnectOptions} after validation and defaults. */
export interface ResolvedOptions
  extends Required<Omit<ConnectOptions, 'headers' | 'query' | 'body' | 'signal' | 'retry'>>,
    Pick<ConnectOptions, 'headers' | 'query' | 'body' | 'signal'> {
  retry: Required<RetryOptions> | false;
}

/** The defaults of `retry`. */
export const DEFAULT_RETRY: Readonly<Required<RetryOptions>> = Object.freeze({ initialMs: 1000, maxMs: 30_000, factor: 2, jitter: 0.5 });

/** The default of `heartbeatTimeoutMs`: three times the 15 s heartbeat of an ssekit server. */
export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 45_000;

/** The longest delay `setTimeout` can wait, and so the largest number an option takes. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * What each option may be: `typeof` names (`object` excludes `null`; a `number` is from 0 to
 * {@link MAX_TIMER_MS}), or exact values. The keys are every option `connect()` knows.
 */
const ACCEPTS: Record<keyof ConnectOptions, string> = {
  headers: 'object function',
  query: 'object function',
  lastEventId: 'string',
  retry: 'object false',
  heartbeatTimeoutMs: 'number',
  method: 'string',
  body: 'object string function',
  credentials: "'omit' 'same-origin' 'include'",
  parse: "'auto' 'json' 'text' function",
  resetEvent: 'string false',
  fetch: 'function',
  signal: 'object',
  shared: 'boolean',
};

const RETRY_ACCEPTS: Record<keyof RetryOptions, string> = { initialMs: 'number', maxMs: 'number', factor: 'number', jitter: 'number' };

/**
 * Throws for a key `accepts` does not know, or a value (other than `undefined`) it does not accept.
 * @returns the options that are not `undefined`.
 */
function check<T extends object>(options: T, accepts: Record<string, string>, prefix: string): Partial<T> {
  const defined: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    const allowed = accepts[key];
    if (allowed === undefined) {
      throw new SseOptionsError(prefix + key, value, 'unknown option');
    }
    if (value === undefined) continue;
    const words = allowed.split(' ');
    const type = value === null ? 'null' : typeof value;
    // Every number option is a count of milliseconds or a factor: finite, never negative.
    const fits = type === 'number' ? (value as number) >= 0 && (value as number) <= MAX_TIMER_MS : words.includes(type);
    if (!fits && !words.includes(type === 'string' ? `'${value}'` : String(value))) {
      throw new SseOptionsError(prefix + key, value, `must be ${words.join(' or ')}`);
    }
    defined[key] = value;
  }
  return defined as Partial<T>;
}


/** Validates `connect()` options and fills in the defaults; throws {@link SseOptionsError}. */
export function resolveOptions(options: ConnectOptions = {}): ResolvedOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new SseOptionsError('options', options, 'must be an object');
  }
  const { retry = {}, ...rest } = check(options, ACCEPTS, '');
  const resolved: ResolvedOptions = {
    lastEventId: '',
    heartbeatTimeoutMs: DEFAULT_HEARTBEAT_TIMEOUT_MS,
    credentials: 'same-origin',
    parse: 'auto',
    resetEvent: 'ssekit-reset',
    shared: false,
    fetch: globalThis.fetch,
    ...rest,
    method: (rest.method ?? 'GET').toUpperCase(),
    retry: retry && { ...DEFAULT_RETRY, ...check(retry, RETRY_ACCEPTS, 'retry.') },
  };
  const { method, lastEventId, body } = resolved;
  if (!/^[A-Z]+$/.test(method)) throw new SseOptionsError('method', method, 'must be an HTTP method name');
  if (/[\r\n\0]/.test(lastEventId)) throw new SseOptionsError('lastEventId', lastEventId, 'must not contain CR, LF or NUL');
  if (body !== undefined && (method === 'GET' || method === 'HEAD')) throw new SseOptionsError('body', body, `cannot go with ${method}`);
  if (typeof resolved.fetch !== 'function') throw new SseOptionsError('fetch', resolved.fetch, 'is required: no global fetch');
  if (retry) {
    const r = resolved.retry as Required<RetryOptions>;
    if (retry.maxMs === undefined) r.maxMs = Math.max(r.maxMs, r.initialMs);
    if (r.maxMs < r.initialMs) throw new SseOptionsError('retry.maxMs', r.maxMs, 'must be at least retry.initialMs');
    if (r.factor < 1 || r.factor > 100) throw new SseOptionsError('retry.factor', r.factor, 'must be from 1 to 100');
    if (r.jitter > 1) throw new SseOptionsError('retry.jitter', r.jitter, 'must be from 0 to 1');
  }
  return resolved;
}

/**
 * The types a stream is used through: the event map, the messages it yields, and the client's
 * own lifecycle events.
 */
import type { SseClientError } from './errors.js';

/**
 * Event name to data type, declared once and shared by server and client:
 *
 * ```ts
 * type Events = { tick: { symbol: string; price: number }; message: string };
 * ```
 *
 * `message` is the event sent without a name. The default, `Record<string, unknown>`, accepts
 * any name with `unknown` data.
 */
export type EventMap = object;

/** The untyped event map: any name, `unknown` data. */
export type AnyEvents = Record<string, unknown>;

/**
 * Names of the client's own events. A server event with one of these names is not given to
 * listeners (they would not know which one they got); the async iterator still yields it.
 */
export type LifecycleName = 'open' | 'error' | 'gap' | 'done' | 'close';

/** Every event name of `E`. */
export type EventName<E extends EventMap> = keyof E & string;

/** Event names of `E` that listeners can subscribe to (all but the lifecycle names). */
export type ListenableName<E extends EventMap> = Exclude<EventName<E>, LifecycleName>;

/** One server event, as listeners and the async iterator receive it. */
export type SseMessage<E extends EventMap = AnyEvents, K extends EventName<E> = EventName<E>> = {
  [N in K]: {
    /** The event name (`message` for an event sent without one). */
    readonly event: N;
    /** The data, parsed as the `parse` option says (JSON by default when it looks like JSON). */
    readonly data: E[N];
    /** This event's own `id:` field, or `undefined` when it has none. */
    readonly id: string | undefined;
    /** The id the stream resumes after once this event is received (`MessageEvent.lastEventId`). */
    readonly lastEventId: string | undefined;
    /** The data exactly as received, before parsing. */
    readonly text: string;
  };
}[K];

/** How the current connection opened. */
export interface OpenInfo {
  /** The response status (200 for a normal stream). */
  readonly status: number;
  /** The `Last-Event-ID` this connection was opened with, if any. */
  readonly lastEventId: string | undefined;
  /** `true` for every connection after the first. */
  readonly reconnect: boolean;
}

/** What follows an error. */
export interface ErrorInfo {
  /** `true` when the client reconnects after `delayMs`. */
  readonly willRetry: boolean;
  /**
   * `true` when the stream closes because of this error (`close` follows). A `parse` error is
   * neither retried nor fatal: only that event is dropped.
   */
  readonly fatal: boolean;
  /** How long the client waits before reconnecting, when it does. */
  readonly delayMs: number | undefined;
  /** Failed attempts in a row so far, counting this one (1 for the first failure; 0 for `parse`). */
  readonly attempt: number;
}

/** The server could not replay what the client missed (its `ssekit-reset` event). */
export interface GapInfo {
  /** The id the client asked to resume after. */
  readonly lastEventId: string | undefined;
  /**
   * The reset event's data, parsed like any event's (`'gap'` from an ssekit server);
   * `undefined` when the client found the gap itself (a shared stream joined with an id the
   * leading tab no longer has).
   */
  readonly data: unknown;
}

/** The server said the stream is over (HTTP 204). */
export interface DoneInfo {
  /** The response status (204). */
  readonly status: number;
}

/**
 * Why a stream closed for good:
 * - `close`: `close()` was called, or a `for await` loop over the stream ended early;
 * - `abort`: the `signal` option aborted;
 * - `done`: the server answered 204;
 * - `error`: an error the client does not retry (a 4xx, a wrong content type);
 * - `ended`: the stream ended and `retry: false` forbids reconnecting.
 */
export type CloseReason = 'close' | 'abort' | 'done' | 'error' | 'ended';

/** Why the stream closed. */
export interface CloseInfo {
  readonly reason: CloseReason;
  /** The error, when `reason` is `error` (or `ended` after a failure). */
  readonly error: SseClientError | undefined;
}

/** Listeners of the client's own events. */
export interface LifecycleListeners {
  /** A connection opened (also after every reconnect). */
  open: (info: OpenInfo) => void;
  /** A connection failed or ended; `info.willRetry` says whether the client reconnects. */
  error: (error: SseClientError, info: ErrorInfo) => void;
  /** The server could not replay what was missed: reload the state the events were updating. */
  gap: (info: GapInfo) => void;
  /** The server answered 204: there is nothing more to receive. `close` follows. */
  done: (info: DoneInfo) => void;
  /** The stream closed for good; no event follows. */
  close: (info: CloseInfo) => void;
}

/** The listener type for event `K` of a stream typed by `E`. */
export type Listener<E extends EventMap, K extends string> = K extends LifecycleName
  ? LifecycleListeners[K]
  : K extends ListenableName<E>
    ? (data: E[K], message: SseMessage<E, K>) => void
    : never;

/** Where a stream's connection lives. */
export type StreamRole = 'private' | 'leader' | 'follower';

/** A stream's state. */
export type StreamState = 'connecting' | 'open' | 'closed';

/** What `connect()` returns. */
export interface EventStream<E extends EventMap = AnyEvents> extends AsyncIterable<SseMessage<E>> {
  /**
   * Adds a listener for a server event of `E` (data typed `E[K]`) or for one of the client's
   * events (`open`, `error`, `gap`, `done`, `close`). Adding the same function twice has no
   * effect. A listener that throws does not stop the stream: the error is reported as an
   * uncaught exception, as `EventTarget` does.
   */
  on<K extends ListenableName<E> | LifecycleName>(name: K, listener: Listener<E, K>): EventStream<E>;
  /** Removes a listener added with {@link EventStream.on}. */
  off<K extends ListenableName<E> | LifecycleName>(name: K, listener: Listener<E, K>): EventStream<E>;
  /**
   * Every server event of `E` in order (the reset event excepted: it becomes `gap`), from the
   * loop's first step on. The loop ends when the stream closes, and throws the error when it
   * closes because of one. Leaving the loop early (`break`, `return`, `throw`) closes the
   * stream. Events wait for the loop until it asks for them.
   */
  [Symbol.asyncIterator](): AsyncIterator<SseMessage<E>, undefined>;
  /** The id the stream resumes after: the last `id:` received, or the `lastEventId` option. */
  readonly lastEventId: string | undefined;
  /** `connecting` (also while waiting to reconnect), `open`, or `closed` (for good). */
  readonly state: StreamState;
  /**
   * `private`: this stream has its own connection. With `shared: true`: `leader` (this stream
   * holds the connection every tab shares) or `follower` (events come from the leader).
   */
  readonly role: StreamRole;
  /** The absolute URL of the stream (before `query` is applied). */
  readonly url: string;
  /** Closes the stream for good: aborts the request, clears its timers, emits `close`. Idempotent. */
  close(): void;
}

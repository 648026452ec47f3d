/**
 * One server-sent event.
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 */
export interface SseEvent {
  /** Sets the client's last event id (echoed back as `Last-Event-ID` on reconnect). */
  id?: string;
  /** The event name (`addEventListener(name)` in the browser); omitted means `message`. */
  event?: string;
  /**
   * The payload. Strings are sent as they are (every line becomes its own `data:` line), bytes
   * must be UTF-8 and are decoded first, and any other value is `JSON.stringify`ed. Omitted means
   * the event carries no data and does not fire in the browser: it only moves the last event id.
   */
  data?: unknown;
  /** Reconnection delay hint in milliseconds: a non-negative integer. */
  retry?: number;
}

/** An event as stored by a replayer: it always carries the id the replayer assigned. */
export interface StoredEvent extends SseEvent {
  id: string;
}

/** A value or a promise of it. Interfaces use it so that in-memory and remote backends fit. */
export type MaybePromise<T> = T | Promise<T>;

/** True for a promise, or any thenable: what `await` would wait for. */
export function isPromiseLike<T>(value: MaybePromise<T> | PromiseLike<T> | unknown): value is PromiseLike<T> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<T>).then === 'function';
}

/**
 * Typed events: an event map (event name to data type), declared once and shared by the server
 * and `@ssekit/client`, and the event objects it allows.
 */
import type { SseEvent } from './event.js';

/**
 * Event name to data type, declared once and shared by server and client:
 *
 * ```ts
 * type Events = { tick: { symbol: string; price: number }; message: string };
 * ```
 *
 * `message` is the event sent without a name. The default, {@link AnyEvents}, accepts any name
 * with any data: the untyped API.
 */
export type EventMap = object;

/** The untyped event map: any name, `unknown` data. With it every API takes any {@link SseEvent}. */
export type AnyEvents = Record<string, unknown>;

/** The id and retry fields any typed event may carry besides its name and data. */
interface EventFields {
  /** Sets the client's last event id (a replayer replaces it with its own). */
  id?: string;
  /** Reconnection delay hint in milliseconds: a non-negative integer. */
  retry?: number;
}

/** The event of name `K` with data `D`; `message` may leave its name out. */
type NamedEvent<K extends string, D> = K extends 'message'
  ? EventFields & { event?: 'message'; data: D }
  : EventFields & { event: K; data: D };

/**
 * An event that only moves the client's last event id or sets its retry delay: no name, no
 * data, so it fires nothing in the browser and any event map allows it.
 */
export type ControlEvent = EventFields & ({ retry: number } | { id: string }) & { event?: undefined; data?: undefined };

/**
 * The events an API typed by `E` accepts: `{ event: K, data: E[K] }` for a name `K` of `E`
 * (the `message` event may leave `event` out), with optional `id` and `retry`, or a
 * {@link ControlEvent}. For the
 * untyped map ({@link AnyEvents}, or any map with a `string` index) it is {@link SseEvent}.
 */
export type EventOf<E extends EventMap> = E extends unknown
  ? string extends keyof E
    ? SseEvent
    : { [K in keyof E & string]: NamedEvent<K, E[K]> }[keyof E & string] | ControlEvent
  : never;
// Conditional on `E` itself: TypeScript then compares a typed Connection<E> with the untyped
// Connection member by member (methods are bivariant), so a typed one goes wherever an untyped
// one is accepted (register, subscribe).

/**
 * What `pipe` accepts for `E`: an event of `E`, or a string sent as a `message`'s data when
 * `E`'s `message` data accepts a string.
 */
export type PipeItemOf<E extends EventMap> = EventOf<E> | (string extends keyof E ? string : E extends { message: infer M } ? (string extends M ? string : never) : never);

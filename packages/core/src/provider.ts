/**
 * Providers create connections. Plug in your own to wrap or replace the default
 * {@link SseConnection} (extra headers, metrics, another transport) while the adapters keep
 * doing the rest.
 */
import type { Connection } from './connection.js';
import type { MaybePromise } from './event.js';
import type { NodeRequest, NodeResponse } from './node.js';
import type { ConnectionOptions } from './options.js';

/**
 * Creates the {@link Connection} for a request.
 *
 * A custom connection is built on an {@link SseConnection}: return one made by
 * `createConnection` (or `new SseConnection(sink, options)` over a sink of your own), a
 * subclass of `SseConnection`, or a `Proxy` around one. Core reaches the replay handoff (queue
 * the live events, write the replay ahead of them, mark a gap, wait for drain) through a member
 * of `SseConnection` keyed by a symbol that no entry point exports, and a subclass or a `Proxy`
 * keeps that member. An object that only delegates to an `SseConnection` does not: with a
 * replayer, the handler refuses it (an `SseOptionsError`, and the stream is closed); without
 * one, it works, since nothing is replayed.
 */
export interface Provider {
  /**
   * Opens an event stream on `res`: writes the headers and returns the connection. The
   * options are already validated.
   */
  createConnection(req: NodeRequest, res: NodeResponse, options: ConnectionOptions): MaybePromise<Connection>;
}

/** Duck-type check for {@link Provider}. */
export function isProvider(value: unknown): value is Provider {
  return typeof value === 'object' && value !== null && typeof (value as Provider).createConnection === 'function';
}

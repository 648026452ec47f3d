/**
 * Providers create connections. Plug in your own to wrap or replace the default
 * {@link SseConnection} (extra headers, metrics, another transport) while the adapters keep
 * doing the rest.
 */
import type { Connection } from './connection.js';
import type { MaybePromise } from './event.js';
import type { NodeRequest, NodeResponse } from './node.js';
import type { ConnectionOptions } from './options.js';

/** Creates the {@link Connection} for a request. */
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

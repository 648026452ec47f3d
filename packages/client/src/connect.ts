/**
 * `connect()`: the entry point of `@ssekit/client`.
 */
import { SseOptionsError } from './errors.js';
import { resolveOptions, type ConnectOptions } from './options.js';
import { createPrivateSource } from './private-source.js';
import { absoluteUrl } from './request.js';
import { canShare, createSharedSource } from './shared-source.js';
import { createStream } from './stream.js';
import type { AnyEvents, EventMap, EventStream } from './types.js';

/**
 * Opens an event stream and keeps it open: reconnects with `Last-Event-ID` after network
 * errors, a silent connection, the server ending the stream, 5xx and 429 (after `Retry-After`),
 * with exponential backoff and jitter; stops on 204 (`done`) and on other 4xx (`error`).
 *
 * ```ts
 * type Events = { tick: { price: number }; message: string };
 * const stream = connect<Events>('/events?topics=ticker', { headers: async () => ({ authorization: await token() }) });
 * stream.on('tick', (tick, meta) => show(tick.price, meta.id));
 * stream.on('gap', () => reloadState());
 * ```
 *
 * @typeParam E - the event map: event name to data type (`message` for events without a name).
 * @param url - absolute, or relative to the page in a browser.
 * @throws {SseOptionsError} for an unknown option, a value it cannot use, or a URL that is not http(s).
 */
export function connect<E extends EventMap = AnyEvents>(url: string | URL, options?: ConnectOptions): EventStream<E> {
  const resolved = resolveOptions(options);
  const target = absoluteUrl(url);
  if (target === undefined) {
    throw new SseOptionsError('url', url, 'must be an http(s) URL');
  }
  const shared = resolved.shared && canShare();
  const create = shared ? createSharedSource : createPrivateSource;
  return createStream<E>(target, resolved, (sink) => create(target, resolved, sink, resolved.lastEventId));
}

/**
 * The object `connect()` returns: typed listeners and an async iterator over the events a
 * {@link Source} reports, the reset event turned into `gap`, and one `close` at the end.
 */
import { parseData } from './data.js';
import type { SseClientError } from './errors.js';
import type { ResolvedOptions } from './options.js';
import type { ParsedEvent } from './parser.js';
import type { Source, SourceSink } from './source.js';
import type {
  AnyEvents,
  CloseReason,
  ErrorInfo,
  EventMap,
  EventStream,
  LifecycleName,
  ListenableName,
  Listener,
  OpenInfo,
  SseMessage,
  StreamRole,
  StreamState,
} from './types.js';

type AnyListener = (...args: never[]) => void;

/** Where events wait for one `for await` loop until it asks for them. */
interface Queue<T> {
  readonly items: T[];
  wake: (() => void) | undefined;
}

const LIFECYCLE = /^(open|error|gap|done|close)$/;
/** A `parse` error drops one event; the connection goes on. */
const PARSE_ERROR_INFO: ErrorInfo = { willRetry: false, fatal: false, delayMs: undefined, attempt: 0 };

/**
 * Builds the stream `connect()` returns.
 * @param createSource - builds the source, given the sink this stream listens on.
 */
export function createStream<E extends EventMap = AnyEvents>(
  url: URL,
  options: ResolvedOptions,
  createSource: (sink: SourceSink) => Source,
): EventStream<E> {
  const listeners = new Map<string, Set<AnyListener>>();
  const queues = new Set<Queue<SseMessage<E>>>();
  const { signal, resetEvent } = options;
  let state: StreamState = 'connecting';
  let closed = false;
  let closeError: SseClientError | undefined;
  /** The id the current connection resumed after, for `gap`. */
  let resumedAfter: string | undefined;

  function emit(name: string, ...args: unknown[]): void {
    for (const listener of listeners.get(name) ?? []) {
      try {
        (listener as (...a: unknown[]) => void)(...args);
      } catch (error) {
        // Reported the way `EventTarget` does, without stopping the stream.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  function onEvent(event: ParsedEvent): void {
    if (closed) return;
    let data: unknown;
    try {
      data = parseData(event.data, event.event, options.parse);
    } catch (error) {
      return emit('error', error, PARSE_ERROR_INFO);
    }
    if (event.event === resetEvent) return emit('gap', { lastEventId: resumedAfter, data });
    const message = {
      event: event.event,
      data,
      id: event.id,
      lastEventId: event.lastEventId || undefined,
      text: event.data,
    } as SseMessage<E>;
    if (!LIFECYCLE.test(event.event)) emit(event.event, data, message);
    for (const queue of queues) {
      queue.items.push(message);
      queue.wake?.();
    }
  }

  function finish(reason: CloseReason, error?: SseClientError, status?: number): void {
    if (closed) return;
    closed = true;
    state = 'closed';
    source.stop();
    signal?.removeEventListener('abort', onAbort);
    if (reason === 'done') emit('done', { status: status ?? 204 });
    emit('close', { reason, error });
    if (reason === 'error') closeError = error;
    for (const queue of queues) queue.wake?.();
  }

  const onAbort = (): void => finish('abort');

  const source = createSource({
    open(info: OpenInfo) {
      if (closed) return;
      state = 'open';
      resumedAfter = info.lastEventId;
      emit('open', info);
    },
    event: onEvent,
    error(error, info) {
      if (closed) return;
      if (info.willRetry) state = 'connecting';
      emit('error', error, info);
    },
    gap(lastEventId) {
      if (!closed) emit('gap', { lastEventId, data: undefined });
    },
    connecting() {
      if (!closed) state = 'connecting';
    },
    end: finish,
  });

  const stream: EventStream<E> = {
    url: url.href,
    get lastEventId() {
      return source.lastEventId || undefined;
    },
    get state() {
      return state;
    },
    get role(): StreamRole {
      return source.role;
    },
    on<K extends ListenableName<E> | LifecycleName>(name: K, listener: Listener<E, K>) {
      let set = listeners.get(name);
      if (!set) listeners.set(name, (set = new Set()));
      set.add(listener as AnyListener);
      return stream;
    },
    off<K extends ListenableName<E> | LifecycleName>(name: K, listener: Listener<E, K>) {
      listeners.get(name)?.delete(listener as AnyListener);
      return stream;
    },
    async *[Symbol.asyncIterator]() {
      const queue: Queue<SseMessage<E>> = { items: [], wake: undefined };
      if (!closed) queues.add(queue);
      try {
        for (;;) {
          if (queue.items.length > 0) yield queue.items.shift()!;
          else if (!closed) await new Promise<void>((resolve) => (queue.wake = resolve));
          else if (closeError) throw closeError;
          else return undefined;
        }
      } finally {
        // Ended by the stream, or left early by the loop: either way the stream is done.
        queues.delete(queue);
        finish('close');
      }
    },
    close() {
      finish('close');
    },
  };

  if (signal?.aborted) finish('abort');
  else {
    signal?.addEventListener('abort', onAbort, { once: true });
    source.start();
  }
  return stream;
}

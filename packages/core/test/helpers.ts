/**
 * The core suite's names for the shared test kit (`@ssekit/testkit`), and a fake connection.
 * The kit's recorder is reached through a view that keeps this suite's vocabulary
 * (`nextEvent`, `destroy`, an `ended` promise); `handlerServer` is the kit's `serveCore`.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { OutgoingHttpHeaders as Http2Headers } from 'node:http2';
import type { CloseListener, CloseReason, Connection, PipeItem, SseEvent, SseSink } from '@ssekit/core';
import { SseClosedError } from '@ssekit/core';
import * as kit from '@ssekit/testkit';
import type { EventSourceMessage, SseClient } from '@ssekit/testkit';

export {
  Inbox,
  closeAll,
  deferred,
  fetchPlain as request,
  interpretStream,
  parseWire,
  serveCore as handlerServer,
  startH2Server,
  startServer,
  track,
  waitFor,
  withTimeout,
  type SpecMessage,
  type TestServer,
} from '@ssekit/testkit';

/** One SSE client connection, recording what it receives: the kit's client, by this suite's names. */
export interface SseRecorder {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Every byte received, decoded as UTF-8. */
  readonly text: string;
  readonly events: { readonly items: readonly EventSourceMessage[] };
  readonly comments: { readonly items: readonly string[] };
  readonly retries: { readonly items: readonly number[] };
  /** Resolves when the response ends or the connection drops. */
  readonly ended: Promise<void>;
  nextEvent(timeoutMs?: number): Promise<EventSourceMessage>;
  nextComment(timeoutMs?: number): Promise<string>;
  nextRetry(timeoutMs?: number): Promise<number>;
  /** Drops the connection from the client side. */
  destroy(): void;
}

function view(client: SseClient): SseRecorder {
  return {
    status: client.status,
    headers: client.headers,
    get text() {
      return client.text;
    },
    events: { items: client.events },
    comments: {
      get items() {
        return client.comments.map((c) => c.text);
      },
    },
    retries: { items: client.retries },
    ended: client.closed,
    nextEvent: (ms = 2000) => client.next(ms),
    nextComment: (ms = 2000) => client.nextComment(ms),
    nextRetry: (ms = 2000) => client.nextRetry(ms),
    destroy: () => client.close(),
  };
}

/** Opens an SSE request over HTTP/1.1 and resolves once the response headers arrived. */
export async function connect(url: string, headers: OutgoingHttpHeaders = {}): Promise<SseRecorder> {
  return view(await kit.connect(url, headers));
}

/** Opens an SSE request over cleartext HTTP/2 and resolves once the response headers arrived. */
export async function connectH2(url: string, path = '/', headers: Http2Headers = {}): Promise<SseRecorder> {
  return view(await kit.connectH2(url, path, headers));
}

/** A sink without a transport: hands `record` every write of a connection, as text. */
export function recordingSink(record: (text: string) => void): SseSink {
  return {
    http2: false,
    destroyed: false,
    open: () => undefined,
    write: (chunk) => {
      record(Buffer.from(chunk).toString('utf8'));
      return true;
    },
    bufferedBytes: () => 0,
    flush: () => undefined,
    cork: () => undefined,
    uncork: () => undefined,
    end: () => undefined,
    destroy: () => undefined,
    finished: () => Promise.resolve(),
    bind: () => undefined,
  };
}

/**
 * A connection without a transport: records the bytes a broadcaster hands it. `failWith` makes
 * its writes throw; `closeOnWrite` makes it close as `slow` on the next write.
 */
export class FakeConnection implements Connection {
  readonly writes: { bytes: Uint8Array; id: string | undefined }[] = [];
  readonly lastEventId: string | undefined = undefined;
  readonly bufferedBytes = 0;
  failWith: Error | undefined;
  closeOnWrite = false;
  private reason: CloseReason | undefined;
  private listeners: CloseListener[] = [];
  private readonly controller = new AbortController();

  get closed(): boolean {
    return this.reason !== undefined;
  }
  get closeReason(): CloseReason | undefined {
    return this.reason;
  }
  get signal(): AbortSignal {
    return this.controller.signal;
  }
  readonly replayGap = false;
  /** Everything written, as text. */
  get text(): string {
    return this.writes.map((w) => Buffer.from(w.bytes).toString('utf8')).join('');
  }
  send(_event: SseEvent): Promise<boolean> {
    return Promise.reject(new Error('not used'));
  }
  sendComment(): Promise<boolean> {
    return Promise.reject(new Error('not used'));
  }
  setRetry(): Promise<boolean> {
    return Promise.reject(new Error('not used'));
  }
  pipe(_source: AsyncIterable<PipeItem> | Iterable<PipeItem>): Promise<boolean> {
    return Promise.reject(new Error('not used'));
  }
  writeEncoded(bytes: Uint8Array, id?: string): boolean {
    if (this.failWith) throw this.failWith;
    if (this.reason !== undefined) return false;
    if (this.closeOnWrite) {
      this.end('slow');
      return false;
    }
    this.writes.push({ bytes, id });
    return true;
  }
  close(): Promise<void> {
    this.end('server');
    return Promise.resolve();
  }
  /** Closes with any reason, as a transport would. */
  end(reason: CloseReason): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    this.controller.abort(new SseClosedError(reason));
    const listeners = this.listeners;
    this.listeners = [];
    for (const listener of listeners) listener(reason, this);
  }
  closedPromise(): Promise<CloseReason> {
    return this.reason !== undefined ? Promise.resolve(this.reason) : new Promise((resolve) => this.onClose(resolve));
  }
  onClose(listener: CloseListener): void {
    if (this.reason !== undefined) listener(this.reason, this);
    else this.listeners.push(listener);
  }
  offClose(listener: CloseListener): void {
    this.listeners = this.listeners.filter((l) => l !== listener);
  }
  /** Number of close listeners still attached (to check that the hub let go). */
  get listenerCount(): number {
    return this.listeners.length;
  }
}

/**
 * Where a stream's events come from: its own connection ({@link PrivateSource}) or the
 * connection another tab holds ({@link SharedSource}). A source reports raw happenings to a
 * sink; the stream turns them into typed events.
 */
import type { SseClientError } from './errors.js';
import type { ParsedEvent } from './parser.js';
import type { CloseReason, ErrorInfo, OpenInfo, StreamRole } from './types.js';

/** What a source reports, in order. Nothing is reported after `end`. */
export interface SourceSink {
  /** A connection opened. */
  open(info: OpenInfo): void;
  /** An event arrived (its data not parsed yet). */
  event(event: ParsedEvent): void;
  /** A connection failed or ended. */
  error(error: SseClientError, info: ErrorInfo): void;
  /**
   * Events after `lastEventId` may be missing, and no server reset event said so (a shared
   * stream joined with an id the leader cannot serve).
   */
  gap(lastEventId: string | undefined): void;
  /** The connection is being re-established (another tab took it over). */
  connecting(): void;
  /** The source stopped for good on its own (204, an error not retried, or `retry: false`). */
  end(reason: Exclude<CloseReason, 'close' | 'abort'>, error: SseClientError | undefined, status: number | undefined): void;
}

/** A source of events for one stream. */
export interface Source {
  /** Where the connection lives. */
  readonly role: StreamRole;
  /** The id a (re)connect resumes after; `''` for none. */
  readonly lastEventId: string;
  /** Starts connecting; called once. */
  start(): void;
  /** Stops for good and releases everything: request, timers, locks, channels. Idempotent. */
  stop(): void;
}

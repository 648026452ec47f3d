/**
 * The plain snapshot behind `stats()`: what a health endpoint or a log line shows of one
 * handler (adapter), counted whether or not `metrics` is set (a few additions per stream, none
 * per event).
 */
import { CLOSE_CAUSES, REJECT_REASONS, type SseCloseCause, type SseRejectReason } from './metrics.js';

/** A snapshot of one handler's streams (`stats()` of every adapter); a new object each call. */
export interface SseStats {
  /** Streams open now. */
  connections: number;
  /** Distinct topics the open streams are subscribed to. */
  topics: number;
  /** Streams opened since the handler was created. */
  opened: number;
  /** Streams closed since the handler was created, by why they closed. */
  closed: Record<SseCloseCause, number>;
  /** Requests refused before their stream opened, by why. */
  rejected: Record<SseRejectReason, number>;
}

/** The counters of one handler. */
export class StatsCounter {
  opened = 0;
  private readonly closed = new Map<SseCloseCause, number>();
  private readonly rejected = new Map<SseRejectReason, number>();

  /** Counts a close. */
  countClose(cause: SseCloseCause): void {
    this.closed.set(cause, (this.closed.get(cause) ?? 0) + 1);
  }

  /** Counts a refusal. */
  countReject(reason: SseRejectReason): void {
    this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1);
  }

  /** The snapshot, with the handler's open streams and their topics. */
  snapshot(connections: number, topics: number): SseStats {
    const closed = {} as Record<SseCloseCause, number>;
    for (const cause of CLOSE_CAUSES) closed[cause] = this.closed.get(cause) ?? 0;
    const rejected = {} as Record<SseRejectReason, number>;
    for (const reason of REJECT_REASONS) rejected[reason] = this.rejected.get(reason) ?? 0;
    return { connections, topics, opened: this.opened, closed, rejected };
  }
}

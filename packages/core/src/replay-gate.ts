/**
 * Storm control for replayers: a bounded number of replay reads at once, the rest queued, and
 * identical requests that are still waiting served by one read.
 *
 * A deploy makes every client reconnect within seconds, each with a `Last-Event-ID`. Without a
 * bound, every replay reads its history at the same moment, and the backend (Redis, or the
 * event loop) answers all of them late at once. With the gate, reads run `maxConcurrent` at a
 * time in arrival order; nothing is refused for waiting. Clients that left at the same moment
 * with the same topics (a shared topic, a server shutdown) send the same id: requests with the
 * same key that are waiting when a read starts share it.
 */
import { SseOptionsError } from './errors.js';

/** Default bound on replay reads in flight per replayer. */
export const DEFAULT_MAX_CONCURRENT_REPLAYS = 64;

/** Default bound on the events one replay may send before it reports a gap instead. */
export const DEFAULT_MAX_REPLAY_EVENTS = 10_000;

/** A snapshot of {@link ReplayGate.stats}. */
export interface ReplayGateStats {
  /** Reads in flight. */
  readonly active: number;
  /** Reads waiting for a slot. */
  readonly queued: number;
  /** Reads started. */
  readonly reads: number;
  /** Requests made (identical waiting ones share a read). */
  readonly requests: number;
}

interface Pending<T> {
  readonly key: string;
  readonly read: () => Promise<T>;
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

/**
 * Runs replay reads with a concurrency bound and coalescing. A read starts once the operation
 * that asked for it is over (`process.nextTick`), so identical requests made together share it,
 * and so do identical ones that wait in the queue; a read that has started is never joined (its
 * snapshot may predate a later request's registration).
 */
export class ReplayGate {
  readonly maxConcurrent: number;
  private running = 0;
  /** Waiting reads, oldest at `head` (an array with a moving head: no O(n) shift per read). */
  private queue: (Pending<unknown> | undefined)[] = [];
  private head = 0;
  private readonly waiting = new Map<string, Pending<unknown>>();
  private scheduled = false;
  private reads = 0;
  private requests = 0;

  constructor(maxConcurrent = DEFAULT_MAX_CONCURRENT_REPLAYS) {
    if (!Number.isSafeInteger(maxConcurrent) || maxConcurrent < 1) {
      throw new SseOptionsError('maxConcurrentReplays', maxConcurrent, 'must be a positive integer');
    }
    this.maxConcurrent = maxConcurrent;
  }

  /**
   * What the gate has done: reads in flight and waiting now, reads started and requests served
   * since it was created (requests above reads were served by a shared read).
   */
  stats(): ReplayGateStats {
    return { active: this.running, queued: this.queue.length - this.head, reads: this.reads, requests: this.requests };
  }

  /**
   * Resolves with `read()`'s result. Requests with the same `key` that are still queued when
   * the read starts share its result (and its rejection).
   */
  run<T>(key: string, read: () => Promise<T>): Promise<T> {
    this.requests++;
    const shared = this.waiting.get(key);
    if (shared) return shared.promise as Promise<T>;
    let resolve!: (value: T) => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const pending: Pending<T> = { key, read, promise, resolve, reject };
    this.waiting.set(key, pending as Pending<unknown>);
    this.queue.push(pending as Pending<unknown>);
    this.schedule();
    return promise;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // After the current operation (not a whole turn of the event loop later, which a busy
    // storm makes long): requests made together are queued by then.
    process.nextTick(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.running < this.maxConcurrent && this.head < this.queue.length) {
      const next = this.queue[this.head]!;
      this.queue[this.head++] = undefined;
      if (this.head === this.queue.length) {
        this.queue = [];
        this.head = 0;
      } else if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      this.waiting.delete(next.key);
      this.running++;
      this.reads++;
      let result: Promise<unknown>;
      try {
        result = next.read();
      } catch (error) {
        result = Promise.reject(error);
      }
      result.then(next.resolve, next.reject).finally(() => {
        this.running--;
        if (this.head < this.queue.length) this.schedule();
      });
    }
  }
}

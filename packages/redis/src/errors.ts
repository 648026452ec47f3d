/**
 * The error a Redis-backed operation rejects with when Redis cannot take it.
 */
import { SseUnavailableError } from '@ssekit/core';
import { brandError } from '@ssekit/core/integration';

/**
 * Redis could not take a broadcast (or answer a replay). It is an `SseUnavailableError`
 * (`code: 'unavailable'`) from `@ssekit/core`, with one more field saying whether the event may
 * still have been stored:
 *
 * - `stored: false`: the command never reached Redis (not connected), or Redis answered with an
 *   error. Nobody receives the event; retrying is safe.
 * - `stored: 'unknown'`: the command was sent but no answer came back in time (timeout, or the
 *   connection dropped while waiting). Redis may have appended it, and then every instance
 *   delivers it. Retrying may deliver it twice, with two different ids.
 *
 * Like every `SseUnavailableError` it answers a request as 503 with `Retry-After`, so a route
 * that broadcasts and does not catch gets a 503 from the framework's default error handler.
 */
export class RedisUnavailableError extends SseUnavailableError {
  /** Whether the event may have been stored anyway; see the class description. */
  readonly stored: false | 'unknown';

  constructor(message: string, stored: false | 'unknown', options?: { cause?: unknown }) {
    super(message, options);
    this.stored = stored;
  }
}
brandError(RedisUnavailableError, '@ssekit/redis:RedisUnavailableError');

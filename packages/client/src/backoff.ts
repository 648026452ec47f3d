/**
 * When to reconnect: exponential backoff with jitter, so a thousand clients that lost their
 * server at the same instant do not all come back at the same instant.
 */
import type { RetryOptions } from './options.js';

/** The longest delay `setTimeout` can wait. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * The delay before reconnect number `attempt` (0 for the first after a success).
 * @param baseMs - the server's `retry:` if it sent one, else `retry.initialMs`.
 * @param retryAfterMs - the server's `Retry-After`, if it sent one: the delay is never shorter.
 * @param random - a number in [0, 1).
 */
export function reconnectDelay(
  attempt: number,
  baseMs: number,
  { maxMs, factor, jitter }: Required<RetryOptions>,
  retryAfterMs: number | undefined,
  random: number,
): number {
  // The cap never undercuts what the server asked for.
  const delay = Math.min(Math.max(maxMs, baseMs), baseMs * factor ** attempt) * (1 - jitter * random);
  // Never earlier than a Retry-After, spread above it by the same fraction.
  return Math.min(MAX_TIMER_MS, Math.round(Math.max(delay, (retryAfterMs ?? 0) * (1 + jitter * random))));
}

/**
 * Reads a `Retry-After` header: delay-seconds or an HTTP date.
 * @see https://httpwg.org/specs/rfc9110.html#field.retry-after
 * @returns milliseconds from `now`, or `undefined` when the header is absent or unreadable.
 */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^[0-9]+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

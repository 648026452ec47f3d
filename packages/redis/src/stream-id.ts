/**
 * Redis Stream ids: `<milliseconds>-<sequence>`, two unsigned 64-bit integers, ordered first by
 * time and then by sequence. They are the event ids clients see, so a `Last-Event-ID` is checked
 * here before it is sent to Redis.
 *
 * @see https://redis.io/docs/latest/develop/data-types/streams/#entry-ids
 */

/** The only shape accepted as a stream id; anything else in `Last-Event-ID` is a replay gap. */
export const STREAM_ID_PATTERN = /^\d+-\d+$/;

const U64_MAX = 0xffff_ffff_ffff_ffffn;

/** The id before every entry. */
export const ZERO_ID = '0-0';

/**
 * Returns the id in the form Redis prints it (no leading zeros), or `undefined` when `id` is not
 * a valid stream id (wrong shape, or a part beyond 64 bits).
 */
export function normalizeStreamId(id: unknown): string | undefined {
  if (typeof id !== 'string' || id.length > 41 || !STREAM_ID_PATTERN.test(id)) return undefined;
  const dash = id.indexOf('-');
  const ms = BigInt(id.slice(0, dash));
  const seq = BigInt(id.slice(dash + 1));
  if (ms > U64_MAX || seq > U64_MAX) return undefined;
  return `${ms}-${seq}`;
}

/**
 * Orders two normalized stream ids (as Redis prints them, see {@link normalizeStreamId}):
 * negative when `a` comes first, 0 when equal, positive after. Without leading zeros a longer
 * number is a larger one, so the parts compare as strings of digits, with no allocation: this
 * runs for every event an instance receives.
 */
export function compareStreamIds(a: string, b: string): number {
  if (a === b) return 0;
  const da = a.indexOf('-');
  const db = b.indexOf('-');
  if (da !== db) return da - db;
  for (let i = 0; i < da; i++) {
    const d = a.charCodeAt(i) - b.charCodeAt(i);
    if (d !== 0) return d;
  }
  const la = a.length - da;
  const lb = b.length - db;
  if (la !== lb) return la - lb;
  for (let i = da + 1; i < a.length; i++) {
    const d = a.charCodeAt(i) - b.charCodeAt(i);
    if (d !== 0) return d;
  }
  return 0;
}

/** The larger of two normalized stream ids. */
export function maxStreamId(a: string, b: string): string {
  return compareStreamIds(a, b) >= 0 ? a : b;
}

/** The millisecond part of a normalized stream id, as a number (exact below 2^53). */
export function streamIdTime(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}

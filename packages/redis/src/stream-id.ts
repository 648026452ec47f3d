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

/** The id before every entry: reading after it reads the whole stream. */
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

/** Orders two valid stream ids: negative when `a` comes first, 0 when equal, positive after. */
export function compareStreamIds(a: string, b: string): number {
  if (a === b) return 0;
  const da = a.indexOf('-');
  const db = b.indexOf('-');
  const msa = BigInt(a.slice(0, da));
  const msb = BigInt(b.slice(0, db));
  if (msa !== msb) return msa < msb ? -1 : 1;
  const sa = BigInt(a.slice(da + 1));
  const sb = BigInt(b.slice(db + 1));
  return sa === sb ? 0 : sa < sb ? -1 : 1;
}

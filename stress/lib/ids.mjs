/**
 * Orders event ids of both backends: `<prefix>-<seq>` (MemoryReplayer) and `<ms>-<seq>`
 * (Redis Stream ids). A scenario checks that each client sees ids strictly increasing.
 */

/** The id as a `[ms, seq]` pair (`ms` is 0 for MemoryReplayer ids). */
export function idKey(id) {
  const parts = id.split('-');
  const seq = Number(parts.at(-1));
  const ms = parts.length === 2 && /^\d+$/.test(parts[0]) ? Number(parts[0]) : 0;
  return [ms, seq];
}

/** True when key `a` comes strictly after key `b`. */
export function isAfter(a, b) {
  return a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]);
}

/** The key before every id. */
export const FIRST_KEY = Object.freeze([-1, -1]);

/**
 * Unknown keys in options objects: a typo such as `heartbeatMS` fails at once, with the key it
 * probably meant, instead of being silently ignored.
 */
import { SseOptionsError } from './errors.js';

/** The keys an options object may have, checked by {@link assertKnownOptions}. */
export type OptionKeys = ReadonlySet<string> | readonly string[];

/**
 * Rejects keys an options object does not know, so that a typo (`heartbeatMS`) fails at once
 * instead of being ignored; keys whose value is `undefined` are rejected too. Suggests the
 * known key that is closest (same letters in another case, or one or two edits away).
 * @throws {SseOptionsError} naming the first unknown key, for example
 *   `Invalid option "heartbeatMS": unknown option (did you mean heartbeatMs?)`.
 */
export function assertKnownOptions(options: object, known: OptionKeys): void {
  const keys = known instanceof Set ? known : new Set(known as readonly string[]);
  for (const key of Object.keys(options)) {
    if (keys.has(key)) continue;
    const suggestion = closest(key, keys);
    const reason = suggestion === undefined ? `unknown option (known: ${[...keys].join(', ')})` : `unknown option (did you mean ${suggestion}?)`;
    throw new SseOptionsError(key, (options as Record<string, unknown>)[key], reason);
  }
}

/** The known key most like `key`: the same ignoring case, else at most two edits away. */
function closest(key: string, known: ReadonlySet<string>): string | undefined {
  const lower = key.toLowerCase();
  let best: string | undefined;
  let bestDistance = Math.min(2, Math.floor(key.length / 3));
  for (const candidate of known) {
    if (candidate.toLowerCase() === lower) return candidate;
    const d = editDistance(lower, candidate.toLowerCase());
    if (d <= bestDistance && (best === undefined || d < bestDistance)) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Levenshtein distance, with one row of memory. */
function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(above + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/** Every key of `T`, so that a list of option names cannot miss one or name one that is not there. */
export function keysOf<T>(record: { readonly [K in keyof Required<T>]: true }): ReadonlySet<string> {
  return new Set(Object.keys(record));
}

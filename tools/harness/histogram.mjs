/**
 * A fixed-bucket latency histogram that merges across processes by adding counts.
 * 0.1 ms buckets up to 100 ms, then 10 ms buckets up to 60 s: fine where latency is low,
 * coarse where it is already bad, and a few KB to send over IPC.
 */
const FINE_STEP = 0.1;
const FINE_LIMIT = 100;
const COARSE_STEP = 10;
const COARSE_LIMIT = 60_000;
const FINE = Math.round(FINE_LIMIT / FINE_STEP);
const SIZE = FINE + Math.round((COARSE_LIMIT - FINE_LIMIT) / COARSE_STEP) + 1;

export function createHistogram() {
  return { counts: new Uint32Array(SIZE), n: 0, max: 0, sum: 0 };
}

export function record(h, ms) {
  if (ms < 0) ms = 0;
  let i;
  if (ms < FINE_LIMIT) i = (ms / FINE_STEP) | 0;
  else if (ms < COARSE_LIMIT) i = FINE + (((ms - FINE_LIMIT) / COARSE_STEP) | 0);
  else i = SIZE - 1;
  h.counts[i]++;
  h.n++;
  h.sum += ms;
  if (ms > h.max) h.max = ms;
}

/** Upper edge of bucket i, in ms. */
function edge(i) {
  if (i < FINE) return (i + 1) * FINE_STEP;
  if (i < SIZE - 1) return FINE_LIMIT + (i - FINE + 1) * COARSE_STEP;
  return COARSE_LIMIT;
}

export function toJSON(h) {
  // Sparse form: [index, count] pairs.
  const pairs = [];
  for (let i = 0; i < SIZE; i++) if (h.counts[i] !== 0) pairs.push(i, h.counts[i]);
  return { pairs, n: h.n, max: h.max, sum: h.sum };
}

export function merge(into, json) {
  for (let k = 0; k < json.pairs.length; k += 2) into.counts[json.pairs[k]] += json.pairs[k + 1];
  into.n += json.n;
  into.sum += json.sum;
  if (json.max > into.max) into.max = json.max;
  return into;
}

export function percentile(h, p) {
  if (h.n === 0) return NaN;
  const target = Math.ceil((p / 100) * h.n);
  let seen = 0;
  for (let i = 0; i < SIZE; i++) {
    seen += h.counts[i];
    if (seen >= target) return Math.min(edge(i), h.max);
  }
  return h.max;
}

/**
 * Exact percentiles of raw samples (for runs small enough to keep every sample): the nearest
 * rank, like {@link percentile}, for each of `ps`.
 * @param {readonly number[]} samples
 * @param {readonly number[]} ps percentiles, e.g. `[50, 99]`
 * @returns {number[]} NaN for each when there are no samples
 */
export function exactPercentiles(samples, ps) {
  const sorted = Float64Array.from(samples).sort();
  return ps.map((p) => (sorted.length === 0 ? NaN : sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]));
}

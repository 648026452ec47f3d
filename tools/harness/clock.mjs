/**
 * One clock for every process of a run, so that a timestamp taken in a server process can be
 * compared with one taken in a client process: wall-clock milliseconds with sub-millisecond
 * resolution (`performance.timeOrigin + performance.now()`). Node's `process.hrtime` is the
 * system-wide monotonic clock, but Bun's and Deno's count from their own start, so it cannot
 * be shared with a Bun or Deno server.
 */
export const now = () => performance.timeOrigin + performance.now();

/**
 * One clock for every process of a run: the monotonic clock is system-wide on Linux, so a
 * timestamp taken in a server process can be compared with one taken in a client process.
 */
export const now = () => Number(process.hrtime.bigint()) / 1e6;

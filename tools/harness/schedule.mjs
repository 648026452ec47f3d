/**
 * A broadcast schedule fixed in advance: event i is due at t0 + i/rate. A sender that falls
 * behind sends the overdue events as soon as it can (each tick sends what was due when it
 * started, then yields to I/O), so lag shows up as latency from the scheduled time and, in a
 * timed run, as fewer events sent by the end of the window: never as a quietly slower
 * schedule (no coordinated omission).
 */
import { now } from './clock.mjs';
import { createHistogram, record, toJSON } from './histogram.mjs';

/**
 * Sends event `index` (warm-up included), due at `scheduled`, sent at `sent` (both on the
 * shared clock, ms). A returned promise is awaited before the next event, so asynchronous
 * broadcasts (Redis) stay in order; a throw or a rejection ends the schedule with that error.
 * @typedef {(index: number, scheduled: number, sent: number, measured: boolean) => unknown} Send
 */

/**
 * @typedef {object} ScheduleOptions
 * @property {number} rate events per second
 * @property {number} [durationMs] a timed run: the measured window, after the warm-up. A tick
 *   sends every event due when it started; the first tick that starts after the window's end
 *   (plus one period) ends the run, and what was not due by then is not sent
 * @property {number} [total] a counted run: exactly this many measured events, however late
 * @property {number} [warmupMs] unmeasured events first, for this long (default 0)
 * @property {number} [sliceMs] wait at least this long between ticks, sending what is due in a
 *   burst (default 0: one tick per due event)
 * @property {number} [startDelayMs] t0 is this far after the call (default 20)
 * @property {Send} send
 * @property {() => void} [onMeasureStart] called once, at the tick that starts the measured window
 */

/**
 * @typedef {object} ScheduleResult
 * @property {number} from start of the measured window (shared clock, ms)
 * @property {number} to end of the measured window
 * @property {number} scheduled measured events due in the window
 * @property {number} sent measured events sent
 * @property {number} elapsedMs from t0 to the last send
 * @property {ReturnType<typeof toJSON>} lag send time minus scheduled time, measured events
 */

/**
 * Starts a schedule.
 * @param {ScheduleOptions} options
 * @returns {{ done: Promise<ScheduleResult>, stop(): void }} `stop()` ends it early; `done`
 *   then resolves with what was sent
 */
export function schedule({ rate, durationMs, total, warmupMs = 0, sliceMs = 0, startDelayMs = 20, send, onMeasureStart }) {
  if (!(rate > 0)) throw new Error(`rate must be positive (got ${rate})`);
  if ((durationMs === undefined) === (total === undefined)) throw new Error('give either durationMs or total');
  const period = 1000 / rate;
  const t0 = now() + startDelayMs;
  const warmupCount = Math.round((warmupMs * rate) / 1000);
  const measuredCount = total ?? Math.round((durationMs * rate) / 1000);
  const last = warmupCount + measuredCount;
  const tEnd = t0 + warmupMs + (durationMs ?? measuredCount * period);
  const lag = createHistogram();
  let i = 0;
  let measuring = false;
  let stopped = false;
  let timer;
  let lastSent = t0;
  let settle;
  const done = new Promise((resolve, reject) => {
    settle = (error) => {
      if (settle === undefined) return;
      settle = undefined;
      clearTimeout(timer);
      if (error) reject(error);
      else resolve({ from: t0 + warmupMs, to: tEnd, scheduled: measuredCount, sent: Math.max(0, i - warmupCount), elapsedMs: lastSent - t0, lag: toJSON(lag) });
    };
  });

  const tick = () => {
    timer = undefined;
    const start = now();
    if (!measuring && start >= t0 + warmupMs - period) {
      measuring = true;
      onMeasureStart?.();
    }
    while (!stopped && i < last && t0 + i * period <= start) {
      const scheduled = t0 + i * period;
      const measured = i >= warmupCount;
      const sent = now();
      let result;
      try {
        result = send(i, scheduled, sent, measured);
      } catch (error) {
        settle?.(error);
        return;
      }
      if (measured) record(lag, sent - scheduled);
      lastSent = sent;
      i++;
      if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
        result.then(tick, (error) => settle?.(error));
        return;
      }
    }
    const t = now();
    if (stopped || i >= last || (durationMs !== undefined && t >= tEnd + period)) {
      settle?.();
      return;
    }
    const wait = Math.max(sliceMs, t0 + i * period - t);
    if (wait <= 0) setImmediate(tick);
    else timer = setTimeout(tick, Math.floor(wait));
  };
  timer = setTimeout(tick, startDelayMs);

  return {
    done,
    stop() {
      stopped = true;
      if (timer !== undefined) {
        clearTimeout(timer);
        settle?.();
      }
    },
  };
}

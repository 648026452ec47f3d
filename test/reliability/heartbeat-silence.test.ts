/**
 * How long a stream can stay silent, which is what proxy and load-balancer idle timeouts must
 * exceed. Heartbeats share one timer per period and skip a stream that wrote since the last
 * tick, so the longest silence is 2 x heartbeatMs (an event in the same instant as a tick), not
 * counting timer lateness under load. docs/production.md relies on it.
 * Fake timers and a recording sink: no sockets, no waiting.
 */
import fc from 'fast-check';
import { SseConnection } from '@ssekit/core';
import { heartbeatStats } from '@ssekit/core/integration';
import { recordingSink } from '../../packages/core/test/helpers';

const PERIOD = 1000;

/** Opens a stream at time 0, sends events at `at` (ms), runs to `until`; returns the longest silence. */
async function longestSilence(at: number[], until: number): Promise<number> {
  const writes: number[] = [];
  const start = Date.now();
  const connection = new SseConnection(recordingSink(() => writes.push(Date.now())), { heartbeatMs: PERIOD });
  for (const offset of [...at].sort((a, b) => a - b)) {
    await jest.advanceTimersByTimeAsync(start + offset - Date.now());
    await connection.send({ data: 'event' });
  }
  await jest.advanceTimersByTimeAsync(start + until - Date.now());
  connection.close();
  let longest = 0;
  let last = start;
  for (const t of [...writes, start + until]) {
    longest = Math.max(longest, t - last);
    last = t;
  }
  return longest;
}

beforeEach(() => jest.useFakeTimers());
afterEach(() => {
  jest.useRealTimers();
  expect(heartbeatStats()).toEqual({ timers: 0, members: 0 });
});

test('an event just after a tick delays the next heartbeat to the tick after: silence just under 2 periods', async () => {
  expect(await longestSilence([PERIOD + 1], 5 * PERIOD)).toBe(2 * PERIOD - 1);
});

test('with no events, a heartbeat every period', async () => {
  expect(await longestSilence([], 5 * PERIOD)).toBe(PERIOD);
});

test('an event in the same instant as a tick: exactly 2 periods', async () => {
  expect(await longestSilence([PERIOD], 5 * PERIOD)).toBe(2 * PERIOD);
});

test('whatever the events, a stream is never silent for more than 2 periods', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 8 * PERIOD }), { maxLength: 12 }), async (at) => {
      expect(await longestSilence(at, 10 * PERIOD)).toBeLessThanOrEqual(2 * PERIOD);
    }),
    { numRuns: 100 },
  );
});

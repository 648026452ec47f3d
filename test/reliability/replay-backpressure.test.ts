/**
 * A client that was closed as `slow` comes back with `Last-Event-ID` and must get everything
 * it missed, even when that is more than `maxBufferedBytes`: replay has to wait for the socket
 * to drain instead of filling the buffer past the slow-client limit (which would close the
 * connection again, at every reconnect, and the client would never catch up).
 */
import { MemoryReplayer } from '@ssekit/core';
import { connect, serveCore } from '@ssekit/testkit';

test('a replay larger than maxBufferedBytes reaches a reading client in full', async () => {
  const maxBufferedBytes = 64 * 1024;
  const replayer = new MemoryReplayer(2000);
  const { handler, opened, server } = await serveCore({ replayer, maxBufferedBytes, heartbeatMs: 0, resetEvent: true });
  const payload = 'x'.repeat(2048);
  for (let n = 1; n <= 1000; n++) handler.hub.broadcast({ data: `${n} ${payload}` });

  // About 2 MB to replay: thirty times the slow-client limit.
  const client = await connect(`${server.url}/events`, { 'last-event-id': `${replayer.prefix}-1` });
  await client.waitForEvents(999, 15_000);
  expect(client.events.map((e) => Number.parseInt(e.data, 10))).toEqual(Array.from({ length: 999 }, (_, i) => i + 2));
  const connection = await opened.next(2000, 'the connection to be reported');
  expect(opened.items).toHaveLength(1);
  expect(connection.closed).toBe(false);
  expect(connection.replayGap).toBe(false);

  // Live delivery continues after the replay.
  handler.hub.broadcast({ data: '1001 live' });
  await client.waitForEvents(1000);
  expect(client.events.at(-1)!.data).toBe('1001 live');
});

/**
 * Type test, compiled by `npm run typecheck` and never run: a strict user file sees the
 * application's `Connection` and nothing of the plumbing behind it.
 */
import { createConnection, type SseConnection, type Connection, type Provider } from '@ssekit/core';

declare const conn: Connection;
declare const sse: SseConnection;
declare const bytes: Uint8Array;

async function use(): Promise<void> {
  const sent: boolean = await conn.send({ event: 'tick', data: { n: 1 } });
  const commented: boolean = await conn.sendComment('keep-alive');
  const retried: boolean = await conn.setRetry(1000);
  const piped: boolean = await conn.pipe(['a', { data: 'b' }]);
  const written: boolean = conn.writeEncoded(bytes, 'id-1');
  void [sent, commented, retried, piped, written];
  conn.close({ retryMs: 500 });
  const reason: 'client' | 'server' | 'slow' | 'error' = await conn.closedPromise();
  void reason;
}
void use;

// The replay handoff is not on the public type...
// @ts-expect-error hold() is internal
conn.hold();
// @ts-expect-error release() is internal
conn.release(new Set<string>());
// @ts-expect-error markReplayGap() is internal
conn.markReplayGap();
// @ts-expect-error drained() is internal
void conn.drained();
// @ts-expect-error writeEncoded has no "ahead" flag
conn.writeEncoded(bytes, 'id', true);
// ...nor on the class, whose scheduler hooks are not callable either.
// @ts-expect-error hold() is internal
sse.hold();
// @ts-expect-error uncorkNow() is internal
sse.uncorkNow();
// @ts-expect-error heartbeat() is internal
sse.heartbeat();
// @ts-expect-error the queue is private
void sse.live;
// @ts-expect-error the flag is read-only
sse.replayGap = true;

// A custom connection implements the application's members only.
const custom: Provider = {
  createConnection(req, res, options) {
    const inner: SseConnection = createConnection(req, res, options);
    return inner;
  },
};
void custom;

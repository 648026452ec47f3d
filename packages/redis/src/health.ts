/**
 * The readiness of a {@link RedisBroadcaster}, for a readiness endpoint: read from state the
 * connections already keep (ioredis's connection status, the reader's state), so asking costs
 * no round trip to Redis however often a load balancer asks.
 */
import type { Link } from './link.js';

/**
 * What a broadcaster's reader (its subscriber connection and the delivery behind it) is doing:
 * `running` when it delivers live, `starting` while it connects, subscribes or catches up (at
 * start-up, and after a break), `stopped` after `close()`.
 */
export type RedisReaderState = 'running' | 'starting' | 'stopped';

/**
 * A snapshot of {@link RedisBroadcaster.health}.
 *
 * How fast it turns: a Redis that stops or restarts closes both connections, and the snapshot
 * says `ready: false` as soon as the close reaches this process (milliseconds on a local
 * network; ioredis marks the command connection not ready on the socket's close, the reader on
 * its own connection's close). A Redis that stops answering without closing (a freeze, a
 * partition) is found by the reader's `PING` once its connection has been quiet for `pingMs`,
 * within `timeoutMs` more. After Redis is back, `ready` returns once the command connection has
 * reconnected (its `retryStrategy`) and the reader has subscribed again and caught up.
 */
export interface RedisHealth {
  /**
   * True when the command connection is up and the reader delivers live: broadcasts are taken,
   * and reach this instance's connections. A readiness check answers with this.
   */
  readonly ready: boolean;
  /** The command connection (broadcasts, replays): `up` when ioredis reports it ready. */
  readonly redis: 'up' | 'down';
  /** The reader: see {@link RedisReaderState}. */
  readonly reader: RedisReaderState;
  /** The command connection's ioredis status (`ready`, `connecting`, `reconnecting`, `end`, ...), for logs. */
  readonly status: string;
}

/** The health of a broadcaster whose command connection is `link` and whose reader is in `reader`. */
export function healthOf(link: Link, reader: RedisReaderState, closed: boolean): RedisHealth {
  const redis = !closed && link.ready ? 'up' : 'down';
  const state = closed ? 'stopped' : reader;
  return { ready: redis === 'up' && state === 'running', redis, reader: state, status: link.client.status };
}

/**
 * The Redis instruments of a {@link RedisBroadcaster}'s `metrics` option, recorded on the
 * application's OpenTelemetry `Meter` beside core's `ssekit.*` instruments. Without the option
 * nothing here exists: no instrument is created and no call is made on any path.
 *
 * Names and attributes (fixed; dashboards rely on them):
 * - `ssekit.redis.reader.lag` (histogram, seconds): from an event's publish time (the
 *   millisecond part of its id, which is Redis `TIME` when it was stored) to its delivery to
 *   this instance's connections, for every event the reader delivers, live or by a catch-up
 *   after a break (those record the break's length). The two clocks are Redis's and this
 *   host's: a skew between them shifts every value (a value below zero is recorded as 0).
 * - `ssekit.redis.errors` (counter, attribute `operation`): Redis operations that failed, one
 *   per incident: `publish` (a broadcast Redis did not take, or that failed because Redis was never reached), `replay` (a replay read),
 *   `subscribe` (subscribing channels on the reader's connection), `catchup` (the read after a
 *   break), `connection` (the reader's connection could not be opened, or was lost).
 * - `ssekit.redis.catchups` (counter, attribute `outcome`: `ok`, `gap`): catch-ups after the
 *   reader's connection broke; `gap` when events this instance had not delivered were gone
 *   (trimmed, expired, or lost by Redis) and local streams were closed so their clients resume.
 *
 * @see https://opentelemetry.io/docs/specs/otel/metrics/api/
 */
import { SseOptionsError, type SseCounter, type SseHistogram, type SseMeter, type SseMetricAttributes } from '@ssekit/core';
import { isMeter } from '@ssekit/core/integration';

/** What failed, as the `operation` attribute of `ssekit.redis.errors` reports it. */
export type RedisOperation = 'publish' | 'replay' | 'subscribe' | 'catchup' | 'connection';

/** Every {@link RedisOperation}, in a fixed order. */
const OPERATIONS: readonly RedisOperation[] = ['publish', 'replay', 'subscribe', 'catchup', 'connection'];

/**
 * Bucket boundaries of `ssekit.redis.reader.lag`, in seconds: a healthy reader is in the
 * milliseconds, a catch-up after a break records the break (seconds to a minute).
 */
const LAG_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** The Redis instruments of one meter, and what a broadcaster records on them. */
export class RedisMetrics {
  private readonly lag: SseHistogram;
  private readonly errors: SseCounter;
  private readonly catchUps: SseCounter;
  /** Attribute objects made once, so a measurement allocates nothing. */
  private readonly byOperation = new Map<RedisOperation, SseMetricAttributes>();
  private static readonly OK: SseMetricAttributes = { outcome: 'ok' };
  private static readonly GAP: SseMetricAttributes = { outcome: 'gap' };

  constructor(meter: SseMeter) {
    this.lag = meter.createHistogram('ssekit.redis.reader.lag', {
      description: 'Time from an event being stored in Redis to its delivery to this instance\'s connections',
      unit: 's',
      advice: { explicitBucketBoundaries: LAG_BUCKETS },
    });
    this.errors = meter.createCounter('ssekit.redis.errors', { description: 'Redis operations that failed, by operation', unit: '{error}' });
    this.catchUps = meter.createCounter('ssekit.redis.catchups', {
      description: 'Catch-ups after the Redis subscription broke, by outcome',
      unit: '{catchup}',
    });
    for (const operation of OPERATIONS) this.byOperation.set(operation, { operation });
  }

  /** The event with stream id `id` (`<ms>-<seq>`) was delivered to the local connections now. */
  delivered(id: string): void {
    const stored = Number(id.slice(0, id.indexOf('-')));
    this.lag.record(Math.max(0, Date.now() - stored) / 1000);
  }

  /** One Redis operation failed. */
  readonly failed = (operation: RedisOperation): void => {
    this.errors.add(1, this.byOperation.get(operation));
  };

  /** A catch-up after a break finished; `gap` when it closed streams for events that are gone. */
  caughtUp(gap: boolean): void {
    this.catchUps.add(1, gap ? RedisMetrics.GAP : RedisMetrics.OK);
  }
}

/** One {@link RedisMetrics} per meter, so broadcasters sharing a meter create its instruments once. */
const byMeter = new WeakMap<SseMeter, RedisMetrics>();

/**
 * Validates the `metrics` option and returns the instruments of its meter (created on first
 * use), or `undefined` without one.
 * @throws {SseOptionsError} for a value that is not a meter.
 */
export function redisMetricsOption(meter: unknown): RedisMetrics | undefined {
  if (meter === undefined) return undefined;
  if (!isMeter(meter)) throw new SseOptionsError('metrics', meter, 'must be an OpenTelemetry Meter (createCounter, createUpDownCounter, createHistogram)');
  let metrics = byMeter.get(meter);
  if (metrics === undefined) {
    metrics = new RedisMetrics(meter);
    byMeter.set(meter, metrics);
  }
  return metrics;
}

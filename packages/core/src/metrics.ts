/**
 * Metrics in the application's OpenTelemetry: the instruments a handler records on the `Meter`
 * given as its `metrics` option. Core does not depend on `@opentelemetry/api`: {@link SseMeter}
 * is the part of its `Meter` that ssekit calls, so any OpenTelemetry API 1.x meter fits (and
 * so does anything else with these three methods). Without the option nothing here runs: no
 * instrument is created and no call is made on any path.
 *
 * Names and attributes (fixed; dashboards rely on them):
 * - `ssekit.connections` (up-down counter): streams open now.
 * - `ssekit.connections.opened` (counter): streams opened.
 * - `ssekit.connections.closed` (counter, attribute `reason`): streams closed, by
 *   {@link SseCloseCause}.
 * - `ssekit.connections.rejected` (counter, attribute `reason`): requests refused before the
 *   stream opened, by {@link SseRejectReason}.
 * - `ssekit.events.broadcast` (counter): events the hub delivered to its connections.
 * - `ssekit.events.delivered` (counter): connections written, summed over those events (one
 *   addition per broadcast, not one call per write).
 * - `ssekit.replays` (counter, attribute `outcome`: `ok`, `gap`): `Last-Event-ID` replays.
 * - `ssekit.replay.events` (histogram): events one replay sent.
 * - `ssekit.replay.duration` (histogram, seconds): how long one replay took.
 *
 * @see https://opentelemetry.io/docs/specs/otel/metrics/api/
 */
import type { CloseReason } from './errors.js';

/** Attributes of one measurement. */
export type SseMetricAttributes = Record<string, string>;

/** What ssekit needs of an instrument's options (OpenTelemetry's `MetricOptions`). */
export interface SseInstrumentOptions {
  description?: string;
  unit?: string;
  advice?: { explicitBucketBoundaries?: number[] };
}

/** A counter or up-down counter, as OpenTelemetry's `Counter` and `UpDownCounter`. */
export interface SseCounter {
  add(value: number, attributes?: SseMetricAttributes): void;
}

/** A histogram, as OpenTelemetry's `Histogram`. */
export interface SseHistogram {
  record(value: number, attributes?: SseMetricAttributes): void;
}

/**
 * The part of an OpenTelemetry `Meter` (from `@opentelemetry/api` 1.x) that ssekit uses: pass
 * `metrics.getMeter('my-service')` or a meter of your `MeterProvider`.
 */
export interface SseMeter {
  createCounter(name: string, options?: SseInstrumentOptions): SseCounter;
  createUpDownCounter(name: string, options?: SseInstrumentOptions): SseCounter;
  createHistogram(name: string, options?: SseInstrumentOptions): SseHistogram;
}

/**
 * Why a stream closed, as `stats()` and the `reason` of `ssekit.connections.closed` report it:
 * the connection's {@link CloseReason}, except for the ends the handler itself decides:
 * `lifetime` (`maxLifetimeMs` ran out), `expired` (the `expiresAt` that `authorize` returned)
 * and `shutdown` (`close()` of the handler or adapter). `server` is then an application's own
 * `close()`.
 */
export type SseCloseCause = CloseReason | 'lifetime' | 'expired' | 'shutdown';

/**
 * Why a request was refused before its stream opened: an invalid topic (400), `authorize`
 * (false, or a thrown error), `maxConnections` (503), `maxConnectionsPerIp` (429), or the
 * connect rate.
 */
export type SseRejectReason = 'topic' | 'auth' | 'limit' | 'ip_limit' | 'rate';

/** Every {@link SseCloseCause}, in a fixed order. */
export const CLOSE_CAUSES: readonly SseCloseCause[] = ['client', 'server', 'slow', 'error', 'lifetime', 'expired', 'shutdown'];
/** Every {@link SseRejectReason}, in a fixed order. */
export const REJECT_REASONS: readonly SseRejectReason[] = ['topic', 'auth', 'limit', 'ip_limit', 'rate'];

/** Bucket boundaries of `ssekit.replay.events`. */
const EVENT_BUCKETS = [0, 1, 5, 10, 50, 100, 500, 1000, 5000, 10_000];
/** Bucket boundaries of `ssekit.replay.duration`, in seconds. */
const SECOND_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The instruments of one meter, and what a handler records on them. */
export class SseMetrics {
  private readonly open: SseCounter;
  private readonly opened: SseCounter;
  private readonly closed: SseCounter;
  private readonly rejected: SseCounter;
  private readonly broadcasts: SseCounter;
  private readonly delivered: SseCounter;
  private readonly replays: SseCounter;
  private readonly replayEvents: SseHistogram;
  private readonly replaySeconds: SseHistogram;
  /** Attribute objects made once, so a measurement allocates nothing. */
  private readonly closedBy = new Map<SseCloseCause, SseMetricAttributes>();
  private readonly rejectedBy = new Map<SseRejectReason, SseMetricAttributes>();
  private static readonly OK: SseMetricAttributes = { outcome: 'ok' };
  private static readonly GAP: SseMetricAttributes = { outcome: 'gap' };

  constructor(meter: SseMeter) {
    this.open = meter.createUpDownCounter('ssekit.connections', { description: 'Event streams open now', unit: '{connection}' });
    this.opened = meter.createCounter('ssekit.connections.opened', { description: 'Event streams opened', unit: '{connection}' });
    this.closed = meter.createCounter('ssekit.connections.closed', { description: 'Event streams closed, by reason', unit: '{connection}' });
    this.rejected = meter.createCounter('ssekit.connections.rejected', {
      description: 'Requests refused before their stream opened, by reason',
      unit: '{request}',
    });
    this.broadcasts = meter.createCounter('ssekit.events.broadcast', { description: 'Events broadcast by the hub', unit: '{event}' });
    this.delivered = meter.createCounter('ssekit.events.delivered', { description: 'Event writes to connections, summed per broadcast', unit: '{event}' });
    this.replays = meter.createCounter('ssekit.replays', { description: 'Last-Event-ID replays, by outcome', unit: '{replay}' });
    this.replayEvents = meter.createHistogram('ssekit.replay.events', {
      description: 'Events sent by one replay',
      unit: '{event}',
      advice: { explicitBucketBoundaries: EVENT_BUCKETS },
    });
    this.replaySeconds = meter.createHistogram('ssekit.replay.duration', {
      description: 'Duration of one replay',
      unit: 's',
      advice: { explicitBucketBoundaries: SECOND_BUCKETS },
    });
    for (const cause of CLOSE_CAUSES) this.closedBy.set(cause, { reason: cause });
    for (const reason of REJECT_REASONS) this.rejectedBy.set(reason, { reason });
  }

  /** A stream opened. */
  streamOpened(): void {
    this.opened.add(1);
    this.open.add(1);
  }

  /** A stream that {@link SseMetrics.streamOpened} counted closed. */
  streamClosed(cause: SseCloseCause): void {
    this.open.add(-1);
    this.closed.add(1, this.closedBy.get(cause));
  }

  /** A request was refused. */
  requestRejected(reason: SseRejectReason): void {
    this.rejected.add(1, this.rejectedBy.get(reason));
  }

  /** One event went to `connections` connections (a {@link DeliveryObserver}, one per meter). */
  readonly broadcastDelivered: DeliveryObserver = (connections) => {
    this.broadcasts.add(1);
    if (connections > 0) this.delivered.add(connections);
  };

  /** One replay finished. */
  replayed(gap: boolean, events: number, seconds: number): void {
    this.replays.add(1, gap ? SseMetrics.GAP : SseMetrics.OK);
    this.replayEvents.record(events);
    this.replaySeconds.record(seconds);
  }
}

/** Told, once per broadcast, how many connections were written. */
export type DeliveryObserver = (connections: number) => void;

/**
 * The key of a broadcaster's `[kObserveDeliveries](observer)`: it adds an observer (once, however
 * often it is given) that each broadcast tells how many local connections it wrote. `Hub`
 * implements it; a handler whose hub does not cannot count broadcasts.
 */
export const kObserveDeliveries: unique symbol = Symbol.for('ssekit.observeDeliveries');

/** A broadcaster that reports its deliveries. */
export interface ObservableDeliveries {
  [kObserveDeliveries](observer: DeliveryObserver): void;
}

/** Adds `observer` to `hub` when the hub reports deliveries; returns whether it does. */
export function observeDeliveries(hub: object, observer: DeliveryObserver): boolean {
  const observe = (hub as Partial<ObservableDeliveries>)[kObserveDeliveries];
  if (typeof observe !== 'function') return false;
  observe.call(hub, observer);
  return true;
}

/** One {@link SseMetrics} per meter, so handlers sharing a meter (and a hub) count once. */
const byMeter = new WeakMap<SseMeter, SseMetrics>();

/** The instruments of `meter`, created on first use. */
export function metricsFor(meter: SseMeter): SseMetrics {
  let metrics = byMeter.get(meter);
  if (metrics === undefined) {
    metrics = new SseMetrics(meter);
    byMeter.set(meter, metrics);
  }
  return metrics;
}

/** Validates the `metrics` option: `undefined`, or an object with the three factories. */
export function isMeter(value: unknown): value is SseMeter {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Record<string, unknown>;
  return typeof m['createCounter'] === 'function' && typeof m['createUpDownCounter'] === 'function' && typeof m['createHistogram'] === 'function';
}

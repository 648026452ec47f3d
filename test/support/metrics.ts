/**
 * A real OpenTelemetry metrics SDK for tests: a `MeterProvider` whose reader exports into an
 * `InMemoryMetricExporter` (cumulative), read back on demand as plain values by instrument
 * name and attributes. Shut down by the cleanup registry.
 */
import type { Meter } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type Histogram,
} from '@opentelemetry/sdk-metrics';
import { track } from './cleanup';

/** One data point: a sum (counters) or a histogram's count and sum, with its attributes. */
export interface MetricPoint {
  readonly attributes: Readonly<Record<string, unknown>>;
  /** Counters and up-down counters: the value; histograms: the sum. */
  readonly value: number;
  /** Histograms only: how many values were recorded. */
  readonly count?: number;
}

/** A meter and what has been recorded on it. */
export interface MemoryMetrics {
  readonly meter: Meter;
  /** Collects now: every instrument by name, with its points. */
  read(): Promise<Map<string, MetricPoint[]>>;
  /** The value of `name` at `attributes` (exact match; `{}` for none), 0 when nothing was recorded. */
  value(name: string, attributes?: Record<string, string>): Promise<number>;
}

/** A fresh meter on a fresh SDK. */
export function memoryMetrics(): MemoryMetrics {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  // The period is never reached: the test collects with forceFlush().
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ readers: [reader] });
  track(() => provider.shutdown());
  const meter = provider.getMeter('ssekit-test');

  async function read(): Promise<Map<string, MetricPoint[]>> {
    exporter.reset();
    await reader.forceFlush();
    const out = new Map<string, MetricPoint[]>();
    for (const resource of exporter.getMetrics()) {
      for (const scope of resource.scopeMetrics) {
        for (const metric of scope.metrics) {
          const points: MetricPoint[] = metric.dataPoints.map((p) => {
            if (metric.dataPointType === DataPointType.HISTOGRAM) {
              const h = p.value as Histogram;
              return { attributes: p.attributes, value: h.sum ?? 0, count: h.count };
            }
            return { attributes: p.attributes, value: p.value as number };
          });
          out.set(metric.descriptor.name, points);
        }
      }
    }
    return out;
  }

  return {
    meter,
    read,
    async value(name, attributes = {}) {
      const points = (await read()).get(name) ?? [];
      const want = JSON.stringify(Object.entries(attributes).sort());
      const point = points.find((p) => JSON.stringify(Object.entries(p.attributes).sort()) === want);
      return point?.value ?? 0;
    },
  };
}

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * One Prometheus registry per process, served at `/metrics` by service-kit. Metric helpers are
 * idempotent by name, so modules can declare the metrics they use without coordinating.
 */
export const metricsRegistry = new Registry();
let defaultsCollected = false;

export function collectProcessMetrics(prefix = 'kairos_'): void {
  if (defaultsCollected) return;
  defaultsCollected = true;
  collectDefaultMetrics({ register: metricsRegistry, prefix });
}

/** The metric registered as `name`, or the one `create` registers (helpers are idempotent by name). */
function registered<M>(name: string, create: () => M): M {
  return (metricsRegistry.getSingleMetric(name) as M | undefined) ?? create();
}

export function counter<L extends string>(
  name: string,
  help: string,
  labelNames: readonly L[] = [],
): Counter<L> {
  return registered(name, () => new Counter({ name, help, labelNames, registers: [metricsRegistry] }));
}

export function gauge<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
  return registered(name, () => new Gauge({ name, help, labelNames, registers: [metricsRegistry] }));
}

/** Latency histogram in seconds, with buckets from 1 ms to 10 s. */
export function latencyHistogram<L extends string>(
  name: string,
  help: string,
  labelNames: readonly L[] = [],
): Histogram<L> {
  const buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
  return registered(
    name,
    () => new Histogram({ name, help, labelNames, buckets, registers: [metricsRegistry] }),
  );
}

/** Nearest-rank percentile (`p` in 0–100) of ascending `sorted` values; NaN when empty. For benchmarks. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

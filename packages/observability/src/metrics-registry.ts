import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";

/**
 * One registry per running app (not prom-client's global one), so that several apps in one
 * test process keep their own counts; the process metrics come with it. Counters and
 * histograms made here are registered on it and nowhere else.
 */
export function createMetricsRegistry(options: { defaultMetricsPrefix?: string } = {}) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: options.defaultMetricsPrefix });
  return {
    registry,
    counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) {
      return new Counter<L>({ name, help, labelNames, registers: [registry] });
    },
    histogram<L extends string = never>(
      name: string,
      help: string,
      buckets: number[],
      labelNames: readonly L[] = [],
    ) {
      return new Histogram<L>({ name, help, buckets, labelNames, registers: [registry] });
    },
  };
}

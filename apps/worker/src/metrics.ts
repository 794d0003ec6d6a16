import type { Queue } from "bullmq";
import type { Logger } from "pino";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;

// A scrape must answer even while Redis is away: past this, the queue gauges are left out.
const QUEUE_PROBE_TIMEOUT_MS = 2_000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`queue probe timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * One registry per running worker (not prom-client's global one), so that several workers in
 * one test process keep their own counts. Queue depth and lag are read from Redis on scrape.
 */
export function createWorkerMetrics(options: { queues: readonly Queue[]; log: Logger }) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const { queues, log } = options;

  const events = new Counter({
    name: "osm_worker_events_total",
    help: "Usage events ingested: inserted into the ledger, or skipped as already present",
    labelNames: ["result"] as const,
    registers: [registry],
  });
  const jobsFailed = new Counter({
    name: "osm_worker_jobs_failed_total",
    help: "Failed job attempts; final=true when the job ended in the failed set",
    labelNames: ["queue", "final"] as const,
    registers: [registry],
  });
  const batchSeconds = new Histogram({
    name: "osm_worker_batch_seconds",
    help: "Time to land one usage batch in PostgreSQL, failed attempts included",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  new Gauge({
    name: "osm_worker_queue_depth",
    help: "Jobs per queue and state",
    labelNames: ["queue", "state"] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const queue of queues) {
        try {
          const counts = await withTimeout(queue.getJobCounts(), QUEUE_PROBE_TIMEOUT_MS);
          for (const [state, count] of Object.entries(counts))
            this.set({ queue: queue.name, state }, count);
        } catch (err) {
          log.warn({ err, queue: queue.name }, "queue depth unavailable");
        }
      }
    },
  });
  new Gauge({
    name: "osm_worker_queue_lag_seconds",
    help: "Age of the oldest waiting job (0 when none waits)",
    labelNames: ["queue"] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const queue of queues) {
        try {
          const [oldest] = await withTimeout(queue.getWaiting(0, 0), QUEUE_PROBE_TIMEOUT_MS);
          const lag = oldest ? Math.max(0, Date.now() - oldest.timestamp) / 1000 : 0;
          this.set({ queue: queue.name }, lag);
        } catch (err) {
          log.warn({ err, queue: queue.name }, "queue lag unavailable");
        }
      }
    },
  });

  const repairs = new Counter({
    name: "osm_worker_reconcile_repairs_total",
    help: "What reconciliation fixed: counters raised to PostgreSQL's spend, reservations released",
    labelNames: ["kind"] as const,
    registers: [registry],
  });
  return { registry, events, jobsFailed, batchSeconds, repairs };
}

import { createDb } from "@osm/db/client";
import { type Logger, pino } from "pino";
import { createWorkerMetrics, serveMetrics } from "./metrics.ts";
import { createIngestBatchProcessor } from "./processors/usage/ingest-batch.ts";
import { createUsageQueue, createUsageWorker } from "./queues/usage.ts";

export type WorkerConfig = {
  databaseUrl: string;
  redisUrl: string;
  /** The deployment's Redis prefix; BullMQ keys live under `${redisPrefix}bull`. */
  redisPrefix: string;
  /** 0 picks a free port (tests); the bound one is returned. */
  metricsPort: number;
  concurrency: number;
  stalledIntervalMs: number;
  lockDurationMs: number;
  logLevel: string;
};

export type RunningWorker = {
  metricsPort: number;
  log: Logger;
  /** Waits for the jobs in progress to finish, then closes every connection. Idempotent. */
  close(): Promise<void>;
};

/** Starts the usage processors and the metrics server in this process (main.ts, or a test). */
export async function startWorker(config: WorkerConfig): Promise<RunningWorker> {
  const log = pino({ level: config.logLevel, base: { app: "worker" } });
  const database = createDb({
    url: config.databaseUrl,
    // One connection per concurrent batch, plus one spare so a slow batch never starves another.
    max: config.concurrency + 1,
    applicationName: "osm-worker",
  });
  const usageQueue = createUsageQueue(config.redisUrl, config.redisPrefix);
  const metrics = createWorkerMetrics({ queues: [usageQueue.queue], log });

  // Bind the port before taking jobs: a worker that cannot serve metrics should not start.
  let server: Awaited<ReturnType<typeof serveMetrics>>;
  try {
    server = await serveMetrics(metrics.registry, config.metricsPort, log);
  } catch (err) {
    await usageQueue.close();
    await database.close();
    throw err;
  }

  const usage = createUsageWorker({
    redisUrl: config.redisUrl,
    redisPrefix: config.redisPrefix,
    concurrency: config.concurrency,
    stalledIntervalMs: config.stalledIntervalMs,
    lockDurationMs: config.lockDurationMs,
    processor: createIngestBatchProcessor({ db: database.db, metrics, log }),
    metrics,
    log,
  });

  let closing: Promise<void> | undefined;
  return {
    metricsPort: server.port,
    log,
    close() {
      closing ??= (async () => {
        // The active batches finish (and commit) before the pool they use goes away.
        await usage.close();
        await server.close();
        await usageQueue.close();
        await database.close();
      })();
      return closing;
    },
  };
}

import { BudgetCounters } from "@osm/budget/counters";
import { createDb } from "@osm/db/client";
import { Redis } from "ioredis";
import { type Logger, pino } from "pino";
import { createPublisher } from "./invalidations.ts";
import { createWorkerMetrics, serveMetrics } from "./metrics.ts";
import { runHousekeeping } from "./processors/housekeeping/run-housekeeping.ts";
import { createIngestBatchProcessor } from "./processors/usage/ingest-batch.ts";
import { flipLimits } from "./processors/usage/limit-flips.ts";
import { startHousekeeping } from "./queues/housekeeping.ts";
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
  /** Injected clock for tests; the housekeeping scheduler passes its own now otherwise. */
  now?: () => Date;
};

export type RunningWorker = {
  /** One housekeeping pass at `now`, as the scheduler runs it (tests inject the clock). */
  resetDue(now: Date): ReturnType<typeof runHousekeeping>;
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

  const now = config.now ?? (() => new Date());
  const publisher = new Redis(config.redisUrl, { maxRetriesPerRequest: 3 });
  publisher.on("error", (err) => log.debug({ err: String(err) }, "publisher connection error"));
  const publish = createPublisher(publisher, config.redisPrefix);
  const housekeepingDeps = {
    db: database.db,
    publish,
    log,
    reconcile: {
      db: database.db,
      counters: new BudgetCounters(publisher, config.redisPrefix),
      log,
      repairs: metrics.repairs,
    },
  };
  const housekeeping = await startHousekeeping({
    redisUrl: config.redisUrl,
    redisPrefix: config.redisPrefix,
    run: () => runHousekeeping(housekeepingDeps, now()),
    log,
  });

  const usage = createUsageWorker({
    redisUrl: config.redisUrl,
    redisPrefix: config.redisPrefix,
    concurrency: config.concurrency,
    stalledIntervalMs: config.stalledIntervalMs,
    lockDurationMs: config.lockDurationMs,
    processor: createIngestBatchProcessor({
      db: database.db,
      metrics,
      log,
      afterIngest: (events) => flipLimits({ db: database.db, publish, log, now }, events),
    }),
    metrics,
    log,
  });

  let closing: Promise<void> | undefined;
  return {
    metricsPort: server.port,
    log,
    resetDue: (at) => runHousekeeping(housekeepingDeps, at),
    close() {
      closing ??= (async () => {
        // The active batches finish (and commit) before the pool they use goes away.
        await usage.close();
        await housekeeping.close();
        publisher.disconnect();
        await server.close();
        await usageQueue.close();
        await database.close();
      })();
      return closing;
    },
  };
}

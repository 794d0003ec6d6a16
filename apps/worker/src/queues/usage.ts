import type { IngestResult } from "@osm/db/queries/ingest";
import { bullPrefix, queueNames } from "@osm/jobs/queues";
import { createRedis } from "@osm/redis/connect";
import type { RedisTarget } from "@osm/redis/target";
import { type Job, Queue, Worker } from "bullmq";
import type { Logger } from "pino";
import type { WorkerMetrics } from "../metrics.ts";

export type UsageWorkerOptions = {
  redis: RedisTarget;
  redisPrefix: string;
  concurrency: number;
  stalledIntervalMs: number;
  lockDurationMs: number;
  processor: (job: Job<unknown, IngestResult>) => Promise<IngestResult>;
  metrics: WorkerMetrics;
  log: Logger;
};

/**
 * Ingest is idempotent, so running a stalled batch again is always safe; the bound only stops a
 * batch that brings down every worker that takes it (it then waits in the failed set).
 */
const MAX_STALLED_COUNT = 5;

/** The BullMQ worker of the usage queue, on a Redis connection of its own. */
export function createUsageWorker(options: UsageWorkerOptions) {
  const { metrics, log } = options;
  // BullMQ's blocking commands must outwait a Redis restart rather than fail after N retries.
  const connection = createRedis(options.redis, { maxRetriesPerRequest: null });
  const worker = new Worker<unknown, IngestResult>(queueNames.usage, options.processor, {
    connection,
    prefix: bullPrefix(options.redisPrefix),
    concurrency: options.concurrency,
    stalledInterval: options.stalledIntervalMs,
    lockDuration: options.lockDurationMs,
    maxStalledCount: MAX_STALLED_COUNT,
  });
  worker.on("failed", (job, err) => {
    // finishedOn is set only when the job left for the failed set (no retry left, or unrecoverable).
    const final = job === undefined || Boolean(job.finishedOn);
    metrics.jobsFailed.inc({ queue: queueNames.usage, final: String(final) });
    const fields = { jobId: job?.id, attemptsMade: job?.attemptsMade, reason: err.message };
    if (final) log.error(fields, "usage batch failed for good");
    else log.warn(fields, "usage batch failed; will retry");
  });
  worker.on("stalled", (jobId) => log.warn({ jobId }, "usage batch stalled; redelivered"));
  // Without a listener an 'error' event would throw; connection errors are retried by ioredis.
  worker.on("error", (err) => log.error({ err }, "usage worker error"));
  return {
    worker,
    async close() {
      await worker.close();
      await connection.quit();
    },
  };
}

/** A producer-side handle on the usage queue, for depth and lag on scrape. */
export function createUsageQueue(redis: RedisTarget, redisPrefix: string) {
  // Fail a probe fast rather than queue it behind a reconnect: a scrape must not hang.
  const connection = createRedis(redis, { maxRetriesPerRequest: 1 });
  const queue = new Queue(queueNames.usage, { connection, prefix: bullPrefix(redisPrefix) });
  return {
    queue,
    async close() {
      await queue.close();
      await connection.quit();
    },
  };
}

import { bullPrefix, enqueueAlertDelivery, queueNames } from "@osm/jobs/queues";
import { createRedis } from "@osm/redis/connect";
import type { RedisTarget } from "@osm/redis/target";
import { type Job, Queue, Worker } from "bullmq";
import type { Logger } from "pino";
import type { WorkerMetrics } from "../metrics.ts";

export type AlertsWorkerOptions = {
  redis: RedisTarget;
  redisPrefix: string;
  concurrency: number;
  stalledIntervalMs: number;
  lockDurationMs: number;
  processor: (job: Job<unknown, unknown>) => Promise<unknown>;
  metrics: WorkerMetrics;
  log: Logger;
};

/** The BullMQ worker that sends webhook deliveries, on a Redis connection of its own. */
export function createAlertsWorker(options: AlertsWorkerOptions) {
  const { metrics, log } = options;
  const connection = createRedis(options.redis, { maxRetriesPerRequest: null });
  const worker = new Worker<unknown, unknown>(queueNames.alerts, options.processor, {
    connection,
    prefix: bullPrefix(options.redisPrefix),
    concurrency: options.concurrency,
    stalledInterval: options.stalledIntervalMs,
    lockDuration: options.lockDurationMs,
  });
  worker.on("failed", (job, err) => {
    const final = job === undefined || Boolean(job.finishedOn);
    metrics.jobsFailed.inc({ queue: queueNames.alerts, final: String(final) });
    const fields = { jobId: job?.id, attemptsMade: job?.attemptsMade, reason: err.message };
    if (final) log.warn(fields, "alert delivery failed for good");
    else log.info(fields, "alert delivery failed; will retry");
  });
  worker.on("error", (err) => log.error({ err }, "alerts worker error"));
  return {
    worker,
    async close() {
      await worker.close();
      await connection.quit();
    },
  };
}

export type EnqueueDelivery = (deliveryId: string) => Promise<void>;

/** The producer side: threshold checks enqueue deliveries here (job id = delivery id). */
export function createAlertsQueue(
  redis: RedisTarget,
  redisPrefix: string,
  options: { retryDelayMs?: number } = {},
) {
  const connection = createRedis(redis, { maxRetriesPerRequest: 3 });
  const queue = new Queue(queueNames.alerts, { connection, prefix: bullPrefix(redisPrefix) });
  const enqueue: EnqueueDelivery = (deliveryId) => enqueueAlertDelivery(queue, deliveryId, options);
  return {
    queue,
    enqueue,
    async close() {
      await queue.close();
      await connection.quit();
    },
  };
}

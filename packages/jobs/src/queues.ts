import type { JobsOptions, Queue } from "bullmq";
import { type UsageBatch, usageBatchSchema } from "./usage-event.ts";

/** Queue and job names: the contract between the apps that enqueue and the worker. */
export const queueNames = {
  usage: "usage",
  housekeeping: "housekeeping",
  alerts: "alerts",
} as const;
export const jobNames = {
  usageBatch: "usage.batch",
  housekeeping: "housekeeping.tick",
  alertDelivery: "alerts.deliver",
} as const;

/** How often the housekeeping scheduler fires (window starts, ended graces, reconciliation). */
export const housekeepingEveryMs = 30_000;

/**
 * BullMQ's own key prefix; the per-deployment prefix keeps tenants of one Redis apart. `{bull}`
 * is a Redis Cluster hash tag: BullMQ's scripts touch many keys of a queue at once, so all of
 * them must share one slot (the queues then live on one node of the cluster).
 */
export const bullPrefix = (redisPrefix: string) => `${redisPrefix}{bull}`;

export const usageJobOptions: JobsOptions = {
  // A database outage must not drop usage. The delay doubles from 500 ms with no cap: retry n
  // waits 500 ms × 2^(n-1), so the 24 retries span about 97 days, and a batch that met an
  // outage of T lands at most about T after the database returns (10 s: ≤ 6 attempts, ≤ 8 s).
  attempts: 25,
  backoff: { type: "exponential", delay: 500 },
  removeOnComplete: { count: 1000 },
  // Failed batches stay for inspection.
  removeOnFail: false,
};

/** Validates before adding: a malformed event is a bug in the producer, caught at its source. */
export async function enqueueUsageBatch(
  queue: Queue,
  batch: UsageBatch,
  jobId?: string,
): Promise<void> {
  const payload = usageBatchSchema.parse(batch);
  await queue.add(jobNames.usageBatch, payload, {
    ...usageJobOptions,
    ...(jobId ? { jobId } : {}),
  });
}

/** One webhook delivery: the row in alert_deliveries holds everything else. */
export type AlertDeliveryJob = { deliveryId: string };

export const alertJobOptions = {
  // A receiver that is down gets about 21 minutes to come back: 10 s, 20 s, … 640 s between
  // the 8 attempts. After the last one the delivery is marked failed (see alerts.deliveries).
  attempts: 8,
  backoff: { type: "exponential", delay: 10_000 },
  removeOnComplete: { count: 1000 },
  removeOnFail: { count: 1000 },
} satisfies JobsOptions;

/**
 * Enqueues the delivery under its own id as job id: adding it again while the job exists is a
 * no-op, so a delivery is sent by one job however often it is enqueued.
 */
export async function enqueueAlertDelivery(
  queue: Queue,
  deliveryId: string,
  options: { retryDelayMs?: number } = {},
): Promise<void> {
  const data: AlertDeliveryJob = { deliveryId };
  await queue.add(jobNames.alertDelivery, data, {
    ...alertJobOptions,
    ...(options.retryDelayMs !== undefined
      ? { backoff: { type: "exponential", delay: options.retryDelayMs } }
      : {}),
    jobId: deliveryId,
  });
}

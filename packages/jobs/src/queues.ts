import type { JobsOptions, Queue } from "bullmq";
import { type UsageBatch, usageBatchSchema } from "./usage-event.ts";

/** Queue and job names: the contract between the apps that enqueue and the worker. */
export const queueNames = { usage: "usage", housekeeping: "housekeeping" } as const;
export const jobNames = { usageBatch: "usage.batch", housekeeping: "housekeeping.tick" } as const;

/** How often the housekeeping scheduler fires (window starts, ended graces, reconciliation). */
export const housekeepingEveryMs = 30_000;

/** BullMQ's own key prefix; the per-deployment prefix keeps tenants of one Redis apart. */
export const bullPrefix = (redisPrefix: string) => `${redisPrefix}bull`;

export const usageJobOptions: JobsOptions = {
  // A database outage must not drop usage: retry for about an hour with capped backoff.
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

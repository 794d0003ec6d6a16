import { bullPrefix, housekeepingEveryMs, jobNames, queueNames } from "@osm/jobs/queues";
import { createRedis } from "@osm/redis/connect";
import type { RedisTarget } from "@osm/redis/target";
import { Queue, Worker } from "bullmq";
import type { Logger } from "pino";

/**
 * The housekeeping tick: one BullMQ job scheduler (upserted by every worker, stored once in
 * Redis) fires a job every interval; whichever worker takes it runs the pass.
 */
export async function startHousekeeping(options: {
  redis: RedisTarget;
  redisPrefix: string;
  run: () => Promise<unknown>;
  log: Logger;
}) {
  const connection = createRedis(options.redis, { maxRetriesPerRequest: null });
  const prefix = bullPrefix(options.redisPrefix);
  const queue = new Queue(queueNames.housekeeping, { connection, prefix });
  await queue.upsertJobScheduler(
    "housekeeping",
    { every: housekeepingEveryMs },
    { name: jobNames.housekeeping, opts: { removeOnComplete: 100, removeOnFail: 100 } },
  );
  const workerConnection = createRedis(options.redis, { maxRetriesPerRequest: null });
  const worker = new Worker(queueNames.housekeeping, () => options.run(), {
    connection: workerConnection,
    prefix,
    concurrency: 1,
  });
  worker.on("error", (err) => options.log.error({ err }, "housekeeping worker error"));
  worker.on("failed", (job, err) =>
    options.log.warn({ jobId: job?.id, reason: err.message }, "housekeeping pass failed"),
  );
  return {
    async close() {
      await worker.close();
      await queue.close();
      connection.disconnect();
      workerConnection.disconnect();
    },
  };
}

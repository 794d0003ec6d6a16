import { legacyBullPrefix } from "@osm/jobs/queues";
import { createRedis } from "@osm/redis/connect";
import type { RedisTarget } from "@osm/redis/target";
import { Queue } from "bullmq";
import type { Logger } from "pino";

// Jobs still owed to the queue: a failed-for-good job stays where it is, for inspection.
const pendingStates = ["waiting", "active", "delayed", "prioritized"] as const;
const checkEveryMs = 1_000;

/**
 * Releases before Redis Cluster support queued under `${prefix}bull`; this one under
 * `${prefix}{bull}`. On a single Redis that still holds jobs under the old prefix (an upgrade
 * with usage or deliveries in flight), a consumer of the old queue runs with the same processor
 * until nothing is left there, then stops. A stalled job of a stopped old worker is counted as
 * active until the consumer's stall check hands it back, so it is not left behind either.
 */
export async function drainLegacyQueue(options: {
  redis: RedisTarget;
  redisPrefix: string;
  queueName: string;
  consume: (bullPrefix: string) => { close(): Promise<void> };
  log: Logger;
}): Promise<{ close(): Promise<void> } | null> {
  // A cluster deployment never ran a release with the old names.
  if (options.redis.mode === "cluster") return null;
  const prefix = legacyBullPrefix(options.redisPrefix);
  const connection = createRedis(options.redis, { maxRetriesPerRequest: 3 });
  const queue = new Queue(options.queueName, { connection, prefix });
  const pending = async () => {
    const counts = await queue.getJobCounts(...pendingStates);
    return Object.values(counts).reduce((sum, n) => sum + n, 0);
  };
  const release = async () => {
    await queue.close();
    connection.disconnect();
  };
  if ((await pending()) === 0) {
    await release();
    return null;
  }
  options.log.info({ queue: options.queueName, prefix }, "draining jobs left under the old prefix");
  const consumer = options.consume(prefix);
  let stopping: Promise<void> | undefined;
  const stop = () => {
    clearInterval(timer);
    stopping ??= consumer.close().then(release);
    return stopping;
  };
  const timer = setInterval(() => {
    pending().then(
      (left) => {
        if (left > 0 || stopping) return;
        options.log.info({ queue: options.queueName, prefix }, "old-prefix queue drained");
        void stop();
      },
      (err) => options.log.warn({ err: String(err) }, "old-prefix queue check failed"),
    );
  }, checkEveryMs);
  timer.unref();
  return { close: stop };
}

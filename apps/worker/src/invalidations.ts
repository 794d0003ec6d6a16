import { type Invalidation, invalidationChannel } from "@osm/jobs/invalidation";
import type { RedisClient } from "@osm/redis/connect";

export type Publish = (invalidation: Invalidation) => Promise<void>;

/** The worker's changes reach the proxies like the API's: after commit, versioned. */
export function createPublisher(redis: RedisClient, prefix: string): Publish {
  const channel = invalidationChannel(prefix);
  return async (invalidation) => {
    await redis.publish(channel, JSON.stringify(invalidation));
  };
}

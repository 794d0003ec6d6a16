import { createRedis } from "@osm/redis/connect";
import type { RedisTarget } from "@osm/redis/target";
import { Cluster } from "ioredis";

/**
 * Deletes every key under a prefix, on one Redis or on each master of a cluster (a SCAN sees
 * one node's keys only). Keys are deleted one by one: a multi-key DEL spanning slots is refused.
 */
export async function deleteKeysUnder(target: RedisTarget, prefix: string): Promise<number> {
  const client = createRedis(target, { maxRetriesPerRequest: 2 });
  let deleted = 0;
  try {
    // A cluster client knows its masters only once it has loaded the slots.
    if (client.status !== "ready") await new Promise((resolve) => client.once("ready", resolve));
    const nodes = client instanceof Cluster ? client.nodes("master") : [client];
    for (const node of nodes) {
      let cursor = "0";
      do {
        const [next, keys] = await node.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
        cursor = next;
        const pipeline = node.pipeline();
        for (const key of keys) pipeline.unlink(key);
        await pipeline.exec();
        deleted += keys.length;
      } while (cursor !== "0");
    }
  } finally {
    client.disconnect();
  }
  return deleted;
}

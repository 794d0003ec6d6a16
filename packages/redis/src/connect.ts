import { Cluster, Redis } from "ioredis";
import type { RedisTarget } from "./target.ts";

/** A connection to either kind of target: both speak the same commands, scripts and pub/sub. */
export type RedisClient = Redis | Cluster;

export type RedisConnectionOptions = {
  /**
   * Reconnects a command waits through before it fails; null waits however long it takes
   * (BullMQ's blocking connections require null).
   */
  maxRetriesPerRequest: number | null;
  /** False: a command sent while disconnected fails at once instead of waiting in a queue. */
  offlineQueue?: boolean;
  /** A command without a reply after this long fails. */
  commandTimeoutMs?: number;
  /**
   * Commands issued in the same tick share one socket write. One server only: on a cluster
   * without an offline queue, auto-pipelined admissions were refused under concurrency.
   */
  autoPipelining?: boolean;
  /** Delay before reconnect attempt n; for a cluster, before rediscovering its nodes. */
  reconnectDelayMs?: (attempt: number) => number;
};

/**
 * The one place a Redis connection is made, so every use keeps its options whichever kind of
 * Redis the deployment runs. Multi-key commands and scripts must keep all keys of one call in
 * one hash slot (a `{tag}` in every name): a cluster refuses anything else with CROSSSLOT.
 */
export function createRedis(target: RedisTarget, options: RedisConnectionOptions): RedisClient {
  const commandOptions = {
    maxRetriesPerRequest: options.maxRetriesPerRequest,
    ...(options.commandTimeoutMs !== undefined ? { commandTimeout: options.commandTimeoutMs } : {}),
  };
  if (target.mode === "single") {
    return new Redis(target.url, {
      ...commandOptions,
      ...(options.offlineQueue !== undefined ? { enableOfflineQueue: options.offlineQueue } : {}),
      ...(options.autoPipelining ? { enableAutoPipelining: true } : {}),
      ...(options.reconnectDelayMs ? { retryStrategy: options.reconnectDelayMs } : {}),
    });
  }
  // The offline queue and the reconnect policy belong to the cluster client: its per-node
  // connections keep ioredis' own settings (queue on, slots refreshed on MOVED).
  const cluster = new Cluster(target.nodes, {
    redisOptions: commandOptions,
    ...(options.offlineQueue !== undefined ? { enableOfflineQueue: options.offlineQueue } : {}),
    ...(options.reconnectDelayMs ? { clusterRetryStrategy: options.reconnectDelayMs } : {}),
  });
  // Node connections open lazily, on the first command for a node: that command would wait for
  // the connect, and without an offline queue the others sent meanwhile would be refused.
  // Open each as soon as the cluster names it.
  cluster.on("+node", (node: Redis) => {
    if (node.status === "wait") node.connect().catch(() => {});
  });
  return cluster;
}

/**
 * Readiness: every master answers. One PING to a cluster reaches a single node, and a
 * deployment with a master away refuses a third of its keys while that one node answers.
 */
export async function pingEveryMaster(client: RedisClient): Promise<void> {
  if (!(client instanceof Cluster)) {
    await client.ping();
    return;
  }
  const masters = client.nodes("master");
  if (masters.length === 0) throw new Error("redis cluster: no master known yet");
  await Promise.all(masters.map((node) => node.ping()));
}

import { z } from "zod";

export type RedisNode = { host: string; port: number };

/** Where Redis is: one server by URL, or a Redis Cluster by a few of its nodes. */
export type RedisTarget = { mode: "single"; url: string } | { mode: "cluster"; nodes: RedisNode[] };

const node = z
  .string()
  .trim()
  .regex(/^[^\s:,]+:\d{1,5}$/, "each node must be host:port")
  .transform((value): RedisNode => {
    const at = value.lastIndexOf(":");
    return { host: value.slice(0, at), port: Number(value.slice(at + 1)) };
  })
  .refine((n) => n.port >= 1 && n.port <= 65535, "a node's port must be 1-65535");

/** `host:port,host:port,…`: the nodes a cluster client starts from (it discovers the rest). */
export const clusterNodesSchema = z
  .string()
  .transform((value) => value.split(",").filter((part) => part.trim() !== ""))
  .pipe(z.array(node).min(1, "needs at least one host:port"));

/** The two variables that say where Redis is; each app spreads these into its env schema. */
export const redisEnvFields = {
  REDIS_URL: z.url().optional(),
  OSM_REDIS_CLUSTER: clusterNodesSchema.optional(),
};

export type RedisEnv = { REDIS_URL?: string; OSM_REDIS_CLUSTER?: RedisNode[] };

/**
 * Exactly one of the two: with both set, it is unclear which Redis holds the counters, and
 * picking one silently would split the deployment between two stores.
 */
export function oneRedisIssue(env: RedisEnv): { path: string[]; message: string } | undefined {
  if (env.REDIS_URL !== undefined && env.OSM_REDIS_CLUSTER !== undefined)
    return {
      path: ["OSM_REDIS_CLUSTER"],
      message: "set either REDIS_URL or OSM_REDIS_CLUSTER, not both",
    };
  if (env.REDIS_URL === undefined && env.OSM_REDIS_CLUSTER === undefined)
    return {
      path: ["REDIS_URL"],
      message: "required (or OSM_REDIS_CLUSTER=host:port,… for a Redis Cluster)",
    };
  return undefined;
}

/** The target of an env that passed oneRedisIssue. */
export function redisTargetFromEnv(env: RedisEnv): RedisTarget {
  return env.OSM_REDIS_CLUSTER
    ? { mode: "cluster", nodes: env.OSM_REDIS_CLUSTER }
    : { mode: "single", url: env.REDIS_URL! };
}

/** The variables that name this target, for a child process that reads them. */
export function redisEnvOf(target: RedisTarget): Record<string, string> {
  return target.mode === "cluster"
    ? { OSM_REDIS_CLUSTER: target.nodes.map((n) => `${n.host}:${n.port}`).join(",") }
    : { REDIS_URL: target.url };
}

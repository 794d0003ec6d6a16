import { describe, expect, it } from "vitest";
import { z } from "zod";
import { oneRedisIssue, redisEnvFields, redisEnvOf, redisTargetFromEnv } from "./target.ts";

const schema = z.object(redisEnvFields).superRefine((env, ctx) => {
  const issue = oneRedisIssue(env);
  if (issue) ctx.addIssue({ code: "custom", ...issue });
});

function parse(env: Record<string, string>) {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return `${issue.path.join(".")}: ${issue.message}`;
  }
  return redisTargetFromEnv(parsed.data);
}

describe("the Redis variables", () => {
  it("take one server by URL", () => {
    expect(parse({ REDIS_URL: "redis://127.0.0.1:6379" })).toEqual({
      mode: "single",
      url: "redis://127.0.0.1:6379",
    });
  });

  it("take a cluster by its nodes, spaces and a trailing comma allowed", () => {
    expect(parse({ OSM_REDIS_CLUSTER: "10.0.0.1:7000, redis-b.internal:7001," })).toEqual({
      mode: "cluster",
      nodes: [
        { host: "10.0.0.1", port: 7000 },
        { host: "redis-b.internal", port: 7001 },
      ],
    });
  });

  it.each([
    [{}, /^REDIS_URL: required/],
    [
      { REDIS_URL: "redis://a:6379", OSM_REDIS_CLUSTER: "a:7000" },
      /^OSM_REDIS_CLUSTER: set either/,
    ],
    [{ OSM_REDIS_CLUSTER: "" }, /^OSM_REDIS_CLUSTER: needs at least one/],
    [{ OSM_REDIS_CLUSTER: "a:7000,b" }, /^OSM_REDIS_CLUSTER\.1: each node must be host:port/],
    [{ OSM_REDIS_CLUSTER: "a:70000" }, /^OSM_REDIS_CLUSTER\.0: a node's port/],
    [{ OSM_REDIS_CLUSTER: "redis://a:7000" }, /^OSM_REDIS_CLUSTER\.0: each node/],
    [{ REDIS_URL: "not a url" }, /^REDIS_URL: /],
  ])("refuse %j with a line naming the variable", (env, message) => {
    expect(parse(env as Record<string, string>)).toMatch(message);
  });

  it("round-trip through the env a child process gets", () => {
    const cluster = {
      mode: "cluster" as const,
      nodes: [
        { host: "127.0.0.1", port: 7000 },
        { host: "127.0.0.1", port: 7001 },
      ],
    };
    expect(parse(redisEnvOf(cluster))).toEqual(cluster);
    expect(parse(redisEnvOf({ mode: "single", url: "redis://h:1" }))).toEqual({
      mode: "single",
      url: "redis://h:1",
    });
  });
});

import { describe, expect, it } from "vitest";
import { parseWorkerEnv } from "./env.ts";

const base = {
  DATABASE_URL: "postgres://osm@127.0.0.1:5432/osm",
  REDIS_URL: "redis://127.0.0.1:6379",
  OSM_SECRET: "a-worker-secret-of-at-least-32-characters",
};

describe("parseWorkerEnv", () => {
  it("applies the documented defaults", () => {
    expect(parseWorkerEnv(base)).toEqual({
      ok: true,
      config: {
        databaseUrl: base.DATABASE_URL,
        redis: { mode: "single", url: base.REDIS_URL },
        redisPrefix: "osm:",
        metricsPort: 9464,
        concurrency: 4,
        stalledIntervalMs: 30_000,
        lockDurationMs: 30_000,
        logLevel: "info",
        secret: base.OSM_SECRET,
        allowPrivateUpstreams: false,
        retentionDays: 30,
      },
    });
  });

  it("reads OSM_REDIS_CLUSTER in place of REDIS_URL as the nodes a cluster client starts from", () => {
    const result = parseWorkerEnv({
      ...base,
      REDIS_URL: undefined,
      OSM_REDIS_CLUSTER: "10.0.0.1:7000, redis-b:7001,",
    });
    expect(result).toMatchObject({
      ok: true,
      config: {
        redis: {
          mode: "cluster",
          nodes: [
            { host: "10.0.0.1", port: 7000 },
            { host: "redis-b", port: 7001 },
          ],
        },
      },
    });
  });

  it.each([
    ["DATABASE_URL", { DATABASE_URL: undefined }],
    ["REDIS_URL", { REDIS_URL: "not a url" }],
    ["REDIS_URL", { REDIS_URL: undefined }],
    ["OSM_REDIS_CLUSTER", { OSM_REDIS_CLUSTER: "127.0.0.1:7000" }],
    ["OSM_REDIS_CLUSTER.0", { REDIS_URL: undefined, OSM_REDIS_CLUSTER: "127.0.0.1" }],
    ["OSM_SECRET", { OSM_SECRET: undefined }],
    ["OSM_SECRET", { OSM_SECRET: "too-short" }],
    ["OSM_ALLOW_PRIVATE_UPSTREAMS", { OSM_ALLOW_PRIVATE_UPSTREAMS: "yes" }],
    ["WORKER_METRICS_PORT", { WORKER_METRICS_PORT: "70000" }],
    ["WORKER_CONCURRENCY", { WORKER_CONCURRENCY: "0" }],
    ["WORKER_CONCURRENCY", { WORKER_CONCURRENCY: "four" }],
    ["WORKER_STALLED_INTERVAL_MS", { WORKER_STALLED_INTERVAL_MS: "5" }],
    ["WORKER_LOCK_DURATION_MS", { WORKER_LOCK_DURATION_MS: "1.5" }],
    ["LOG_LEVEL", { LOG_LEVEL: "loud" }],
    ["OSM_LOG_RETENTION_DAYS", { OSM_LOG_RETENTION_DAYS: "0" }],
    ["OSM_LOG_RETENTION_DAYS", { OSM_LOG_RETENTION_DAYS: "1.5" }],
  ])("names %s in one line when it is invalid", (name, change) => {
    const result = parseWorkerEnv({ ...base, ...change });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.line).toMatch(new RegExp(`^osm worker: invalid ${name}: \\S`));
    expect(result.line).not.toContain("\n");
  });
});

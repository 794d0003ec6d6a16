import { describe, expect, it } from "vitest";
import { parseApiEnv } from "./env.ts";

const base = {
  DATABASE_URL: "postgres://osm@127.0.0.1:5432/osm",
  REDIS_URL: "redis://127.0.0.1:6379",
  OSM_SECRET: "an-api-secret-of-at-least-32-characters",
};

describe("parseApiEnv", () => {
  it("applies the documented defaults", () => {
    expect(parseApiEnv(base)).toMatchObject({
      ok: true,
      config: {
        databaseUrl: base.DATABASE_URL,
        redis: { mode: "single", url: base.REDIS_URL },
        redisPrefix: "osm:",
        secret: base.OSM_SECRET,
        allowPrivateUpstreams: false,
        logLevel: "info",
        port: 3000,
        metricsPort: 9466,
        development: true,
        dashboardOrigins: ["http://localhost:5173"],
      },
    });
  });

  it("trusts no development origin in production", () => {
    const result = parseApiEnv({ ...base, NODE_ENV: "production" });
    expect(result.ok && result.config.dashboardOrigins).toEqual([]);
  });

  it.each([
    ["OSM_SECRET", { OSM_SECRET: undefined }],
    ["OSM_MASTER_KEY", { OSM_MASTER_KEY: "short" }],
    ["OSM_ADMIN_EMAIL", { OSM_ADMIN_EMAIL: "not-an-email", OSM_ADMIN_PASSWORD: "long-enough-pw" }],
    ["OSM_ADMIN_EMAIL", { OSM_ADMIN_EMAIL: "owner@example.com" }],
    ["API_PORT", { API_PORT: "-1" }],
    ["NODE_ENV", { NODE_ENV: "staging" }],
  ])("names %s in one line when it is invalid", (name, change) => {
    const result = parseApiEnv({ ...base, ...change });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.line).toMatch(new RegExp(`^osm api: invalid ${name}: \\S`));
    expect(result.line).not.toContain("\n");
  });
});

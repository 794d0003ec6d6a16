import { describe, expect, it } from "vitest";
import { parseProxyEnv } from "./env.ts";

const base = {
  DATABASE_URL: "postgres://osm@127.0.0.1:5432/osm",
  REDIS_URL: "redis://127.0.0.1:6379",
  OSM_SECRET: "a-proxy-secret-of-at-least-32-characters",
};

describe("parseProxyEnv", () => {
  it("applies the documented defaults", () => {
    const result = parseProxyEnv(base);
    expect(result).toMatchObject({
      ok: true,
      config: {
        databaseUrl: base.DATABASE_URL,
        redisUrl: base.REDIS_URL,
        redisPrefix: "osm:",
        secret: base.OSM_SECRET,
        allowPrivateUpstreams: false,
        logLevel: "info",
        dataDir: ".data",
        maxBodyBytes: 16 * 1024 * 1024,
        upstreamConnectMs: 10_000,
        upstreamFirstByteMs: 300_000,
        upstreamIdleMs: 120_000,
        redisTimeoutMs: 250,
        minOutputTokens: 256,
        port: 8787,
      },
    });
  });

  it.each([
    ["DATABASE_URL", { DATABASE_URL: undefined }],
    ["REDIS_URL", { REDIS_URL: "not a url" }],
    ["OSM_SECRET", { OSM_SECRET: "too-short" }],
    ["OSM_ALLOW_PRIVATE_UPSTREAMS", { OSM_ALLOW_PRIVATE_UPSTREAMS: "yes" }],
    ["OSM_MAX_BODY_BYTES", { OSM_MAX_BODY_BYTES: "12" }],
    ["OSM_REDIS_TIMEOUT_MS", { OSM_REDIS_TIMEOUT_MS: "0" }],
    ["PROXY_PORT", { PROXY_PORT: "70000" }],
    ["LOG_LEVEL", { LOG_LEVEL: "loud" }],
  ])("names %s in one line when it is invalid", (name, change) => {
    const result = parseProxyEnv({ ...base, ...change });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.line).toMatch(new RegExp(`^osm proxy: invalid ${name}: \\S`));
    expect(result.line).not.toContain("\n");
  });
});

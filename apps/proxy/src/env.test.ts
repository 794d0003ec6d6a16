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
        redis: { mode: "single", url: base.REDIS_URL },
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
        usageGroupWindowMs: 200,
        trustedProxies: [],
        port: 8787,
        metricsPort: 9465,
        shutdownGraceMs: 10_000,
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
    ["OSM_USAGE_GROUP_WINDOW_MS", { OSM_USAGE_GROUP_WINDOW_MS: "0" }],
    ["PROXY_METRICS_PORT", { PROXY_METRICS_PORT: "70000" }],
    ["OSM_SHUTDOWN_GRACE_MS", { OSM_SHUTDOWN_GRACE_MS: "600001" }],
    ["OSM_TRUSTED_PROXIES", { OSM_TRUSTED_PROXIES: "10.0.0.0/33" }],
    ["PROXY_PORT", { PROXY_PORT: "70000" }],
    ["OSM_TRUSTED_PROXIES", { OSM_TRUSTED_PROXIES: "10.0.0.0/8,nonsense" }],
    ["LOG_LEVEL", { LOG_LEVEL: "loud" }],
    ["OTEL_EXPORTER_OTLP_ENDPOINT", { OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" }],
    ["OTEL_EXPORTER_OTLP_ENDPOINT", { OTEL_EXPORTER_OTLP_ENDPOINT: "ftp://collector:4318" }],
  ])("names %s in one line when it is invalid", (name, change) => {
    const result = parseProxyEnv({ ...base, ...change });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.line).toMatch(new RegExp(`^osm proxy: invalid ${name}: \\S`));
    expect(result.line).not.toContain("\n");
  });

  it("turns tracing on only with OTEL_EXPORTER_OTLP_ENDPOINT", () => {
    const off = parseProxyEnv(base);
    expect(off.ok && off.config.otlpEndpoint).toBeUndefined();
    const on = parseProxyEnv({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" });
    expect(on).toMatchObject({ ok: true, config: { otlpEndpoint: "http://collector:4318" } });
  });

  it("reads OSM_TRUSTED_PROXIES as CIDRs and names a bad entry", () => {
    const result = parseProxyEnv({ ...base, OSM_TRUSTED_PROXIES: "10.0.0.0/8, ::1" });
    expect(result).toMatchObject({
      ok: true,
      config: { trustedProxies: ["10.0.0.0/8", "::1/128"] },
    });
    const bad = parseProxyEnv({ ...base, OSM_TRUSTED_PROXIES: "10.0.0.0/33" });
    expect(!bad.ok && bad.line).toBe(
      'osm proxy: invalid OSM_TRUSTED_PROXIES: "10.0.0.0/33" is not an IPv4 or IPv6 CIDR (e.g. 10.0.0.0/8)',
    );
  });
});

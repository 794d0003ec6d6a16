import {
  appEnvSchema,
  commonConfig,
  type EnvResult,
  milliseconds,
  parseEnv,
  port,
  tracingEnv,
} from "@osm/env/common";
import { z } from "zod";
import type { ProxyConfig } from "./config.ts";
import { parseTrustedProxies } from "./http/client-address.ts";

/** Everything the proxy reads from the environment, validated once at start. */
export const proxyEnvSchema = appEnvSchema({
  ...tracingEnv,
  OSM_DATA_DIR: z.string().default(".data"),
  OSM_MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(16 * 1024 * 1024),
  OSM_UPSTREAM_CONNECT_MS: milliseconds(10_000),
  OSM_UPSTREAM_FIRST_BYTE_MS: milliseconds(300_000),
  OSM_UPSTREAM_IDLE_MS: milliseconds(120_000),
  OSM_REDIS_TIMEOUT_MS: milliseconds(250),
  OSM_MIN_OUTPUT_TOKENS: z.coerce.number().int().min(1).default(256),
  // How long the usage inbox collects events before they move into one queue job (see
  // usage-emitter.ts): the worker's and PostgreSQL's cost is per job, the events are durable
  // already, and only the ledger's freshness waits on it. 200 ms halved the worker's and
  // PostgreSQL's CPU per request against 50 ms (pnpm bench).
  OSM_USAGE_GROUP_WINDOW_MS: z.coerce.number().int().min(1).max(5_000).default(200),
  OSM_HEADERS_TIMEOUT_MS: milliseconds(10_000),
  OSM_REQUEST_TIMEOUT_MS: milliseconds(60_000),
  OSM_TRUSTED_PROXIES: z
    .string()
    .default("")
    .transform((text, ctx) => {
      const parsed = parseTrustedProxies(text);
      if (parsed.ok) return parsed.cidrs;
      ctx.addIssue({ code: "custom", message: parsed.message });
      return z.NEVER;
    }),
  PROXY_PORT: port.default(8787),
  // Prometheus metrics are on a port of their own, so the public gateway port never shows them.
  PROXY_METRICS_PORT: port.default(9465),
  // How long a stopping proxy lets in-flight requests and streams finish before cutting them.
  OSM_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
});

export function parseProxyEnv(env: NodeJS.ProcessEnv): EnvResult<ProxyConfig> {
  return parseEnv("proxy", proxyEnvSchema, env, (e) => ({
    ...commonConfig(e),
    dataDir: e.OSM_DATA_DIR,
    maxBodyBytes: e.OSM_MAX_BODY_BYTES,
    upstreamConnectMs: e.OSM_UPSTREAM_CONNECT_MS,
    upstreamFirstByteMs: e.OSM_UPSTREAM_FIRST_BYTE_MS,
    upstreamIdleMs: e.OSM_UPSTREAM_IDLE_MS,
    redisTimeoutMs: e.OSM_REDIS_TIMEOUT_MS,
    minOutputTokens: e.OSM_MIN_OUTPUT_TOKENS,
    usageGroupWindowMs: e.OSM_USAGE_GROUP_WINDOW_MS,
    headersTimeoutMs: e.OSM_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: e.OSM_REQUEST_TIMEOUT_MS,
    trustedProxies: e.OSM_TRUSTED_PROXIES,
    port: e.PROXY_PORT,
    metricsPort: e.PROXY_METRICS_PORT,
    shutdownGraceMs: e.OSM_SHUTDOWN_GRACE_MS,
    otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT,
  }));
}

import {
  checkOneRedis,
  type RedisTarget,
  redisEnvFields,
  redisTargetFromEnv,
} from "@osm/redis/target";
import { z } from "zod";

const bool = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");
const ms = (fallback: number) => z.coerce.number().int().min(1).default(fallback);

export const proxyEnvSchema = z
  .object({
    DATABASE_URL: z.url(),
    ...redisEnvFields,
    OSM_SECRET: z.string().min(32, "must be at least 32 characters"),
    OSM_REDIS_PREFIX: z.string().default("osm:"),
    OSM_DATA_DIR: z.string().default(".data"),
    OSM_ALLOW_PRIVATE_UPSTREAMS: bool.default(false),
    OSM_MAX_BODY_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .default(16 * 1024 * 1024),
    OSM_UPSTREAM_CONNECT_MS: ms(10_000),
    OSM_UPSTREAM_FIRST_BYTE_MS: ms(300_000),
    OSM_UPSTREAM_IDLE_MS: ms(120_000),
    OSM_REDIS_TIMEOUT_MS: ms(250),
    OSM_MIN_OUTPUT_TOKENS: z.coerce.number().int().min(1).default(256),
    OSM_HEADERS_TIMEOUT_MS: ms(10_000),
    OSM_REQUEST_TIMEOUT_MS: ms(60_000),
    PROXY_PORT: z.coerce.number().int().min(0).max(65535).default(8787),
    LOG_LEVEL: z
      .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
      .default("info"),
  })
  .superRefine(checkOneRedis);

export type ProxyConfig = {
  databaseUrl: string;
  redis: RedisTarget;
  redisPrefix: string;
  secret: string;
  dataDir: string;
  allowPrivateUpstreams: boolean;
  maxBodyBytes: number;
  upstreamConnectMs: number;
  upstreamFirstByteMs: number;
  upstreamIdleMs: number;
  redisTimeoutMs: number;
  minOutputTokens: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  port: number;
  logLevel: string;
};

export function configFromEnv(env: NodeJS.ProcessEnv): ProxyConfig {
  const parsed = proxyEnvSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    console.error(`osm proxy: invalid ${issue.path.join(".")}: ${issue.message}`);
    process.exit(1);
  }
  const e = parsed.data;
  return {
    databaseUrl: e.DATABASE_URL,
    redis: redisTargetFromEnv(e),
    redisPrefix: e.OSM_REDIS_PREFIX,
    secret: e.OSM_SECRET,
    dataDir: e.OSM_DATA_DIR,
    allowPrivateUpstreams: e.OSM_ALLOW_PRIVATE_UPSTREAMS,
    maxBodyBytes: e.OSM_MAX_BODY_BYTES,
    upstreamConnectMs: e.OSM_UPSTREAM_CONNECT_MS,
    upstreamFirstByteMs: e.OSM_UPSTREAM_FIRST_BYTE_MS,
    upstreamIdleMs: e.OSM_UPSTREAM_IDLE_MS,
    redisTimeoutMs: e.OSM_REDIS_TIMEOUT_MS,
    minOutputTokens: e.OSM_MIN_OUTPUT_TOKENS,
    headersTimeoutMs: e.OSM_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: e.OSM_REQUEST_TIMEOUT_MS,
    port: e.PROXY_PORT,
    logLevel: e.LOG_LEVEL,
  };
}

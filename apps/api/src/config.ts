import {
  checkOneRedis,
  type RedisTarget,
  redisEnvFields,
  redisTargetFromEnv,
} from "@osm/redis/target";
import { z } from "zod";

const bool = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");

/** Everything the API reads from the environment, validated once at start. */
export const apiEnvSchema = z
  .object({
    DATABASE_URL: z.url(),
    ...redisEnvFields,
    OSM_SECRET: z.string().min(32, "must be at least 32 characters"),
    OSM_MASTER_KEY: z.string().min(16, "must be at least 16 characters").optional(),
    OSM_ADMIN_EMAIL: z.email().optional(),
    OSM_ADMIN_PASSWORD: z.string().min(10).optional(),
    OSM_ALLOW_PRIVATE_UPSTREAMS: bool.default(false),
    OSM_DASHBOARD_ORIGINS: z.string().optional(),
    OSM_DATA_DIR: z.string().default(".data"),
    OSM_REDIS_PREFIX: z.string().default("osm:"),
    OSM_DASHBOARD_DIR: z.string().optional(),
    API_PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
    LOG_LEVEL: z
      .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
      .default("info"),
  })
  .superRefine(checkOneRedis);

export type ApiConfig = {
  databaseUrl: string;
  redis: RedisTarget;
  redisPrefix: string;
  secret: string;
  masterKey?: string;
  admin?: { email: string; password: string };
  allowPrivateUpstreams: boolean;
  /** Origins allowed to send mutations besides the API's own. */
  dashboardOrigins: string[];
  dataDir: string;
  dashboardDir?: string;
  port: number;
  development: boolean;
  logLevel: string;
};

export function configFromEnv(env: NodeJS.ProcessEnv): ApiConfig {
  const parsed = apiEnvSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    console.error(`osm api: invalid ${issue.path.join(".")}: ${issue.message}`);
    process.exit(1);
  }
  const e = parsed.data;
  const development = e.NODE_ENV !== "production";
  if ((e.OSM_ADMIN_EMAIL === undefined) !== (e.OSM_ADMIN_PASSWORD === undefined)) {
    console.error(
      "osm api: invalid OSM_ADMIN_EMAIL: OSM_ADMIN_EMAIL and OSM_ADMIN_PASSWORD go together",
    );
    process.exit(1);
  }
  return {
    databaseUrl: e.DATABASE_URL,
    redis: redisTargetFromEnv(e),
    redisPrefix: e.OSM_REDIS_PREFIX,
    secret: e.OSM_SECRET,
    masterKey: e.OSM_MASTER_KEY,
    admin: e.OSM_ADMIN_EMAIL
      ? { email: e.OSM_ADMIN_EMAIL, password: e.OSM_ADMIN_PASSWORD! }
      : undefined,
    allowPrivateUpstreams: e.OSM_ALLOW_PRIVATE_UPSTREAMS,
    dashboardOrigins: [
      ...(e.OSM_DASHBOARD_ORIGINS?.split(",")
        .map((o) => o.trim())
        .filter(Boolean) ?? []),
      ...(development ? ["http://localhost:5173"] : []),
    ],
    dataDir: e.OSM_DATA_DIR,
    dashboardDir: e.OSM_DASHBOARD_DIR,
    port: e.API_PORT,
    development,
    logLevel: e.LOG_LEVEL,
  };
}

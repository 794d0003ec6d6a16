import { appEnvSchema, commonConfig, type EnvResult, parseEnv, port } from "@osm/env/common";
import { z } from "zod";
import type { ApiConfig } from "./config.ts";

/** Everything the API reads from the environment, validated once at start. */
export const apiEnvSchema = appEnvSchema({
  OSM_MASTER_KEY: z.string().min(16, "must be at least 16 characters").optional(),
  OSM_ADMIN_EMAIL: z.email().optional(),
  OSM_ADMIN_PASSWORD: z.string().min(10).optional(),
  OSM_DASHBOARD_ORIGINS: z.string().optional(),
  OSM_DATA_DIR: z.string().default(".data"),
  OSM_DASHBOARD_DIR: z.string().optional(),
  OSM_API_MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(1024 * 1024),
  OSM_PUBLIC_URL: z.url().optional(),
  API_PORT: port.default(3000),
  API_METRICS_PORT: port.default(9466),
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
});

export function parseApiEnv(env: NodeJS.ProcessEnv): EnvResult<ApiConfig> {
  return parseEnv("api", apiEnvSchema, env, (e) => {
    if ((e.OSM_ADMIN_EMAIL === undefined) !== (e.OSM_ADMIN_PASSWORD === undefined))
      return "OSM_ADMIN_EMAIL: OSM_ADMIN_EMAIL and OSM_ADMIN_PASSWORD go together";
    const development = e.NODE_ENV !== "production";
    return {
      ...commonConfig(e),
      masterKey: e.OSM_MASTER_KEY,
      admin:
        e.OSM_ADMIN_EMAIL && e.OSM_ADMIN_PASSWORD
          ? { email: e.OSM_ADMIN_EMAIL, password: e.OSM_ADMIN_PASSWORD }
          : undefined,
      dashboardOrigins: [
        ...(e.OSM_DASHBOARD_ORIGINS?.split(",")
          .map((o) => o.trim())
          .filter(Boolean) ?? []),
        ...(development ? ["http://localhost:5173"] : []),
      ],
      dataDir: e.OSM_DATA_DIR,
      dashboardDir: e.OSM_DASHBOARD_DIR,
      port: e.API_PORT,
      metricsPort: e.API_METRICS_PORT,
      maxBodyBytes: e.OSM_API_MAX_BODY_BYTES,
      publicUrl: e.OSM_PUBLIC_URL?.replace(/\/+$/, ""),
      development,
    };
  });
}

/** `migrate.js` needs only the database. */
export function parseMigrateEnv(env: NodeJS.ProcessEnv): EnvResult<{ databaseUrl: string }> {
  return parseEnv("migrate", z.object({ DATABASE_URL: z.url() }), env, (e) => ({
    databaseUrl: e.DATABASE_URL,
  }));
}

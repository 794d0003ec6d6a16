import { checkOneRedis, redisEnvFields, redisTargetFromEnv } from "@osm/redis/target";
import { z } from "zod";
import type { WorkerConfig } from "./worker.ts";

const milliseconds = z.coerce.number().int().min(100).max(3_600_000);
const bool = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");

/** Everything the worker reads from the environment, validated once at start. */
export const workerEnvSchema = z
  .object({
    DATABASE_URL: z.url(),
    ...redisEnvFields,
    // Opens the webhooks' signing secrets (sealed by the API) and must match the database.
    OSM_SECRET: z.string().min(32, "must be at least 32 characters"),
    OSM_ALLOW_PRIVATE_UPSTREAMS: bool.default(false),
    OSM_REDIS_PREFIX: z.string().min(1).default("osm:"),
    WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
    WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(4),
    // BullMQ's defaults; tests shorten them so that a killed worker's job comes back in seconds.
    WORKER_STALLED_INTERVAL_MS: milliseconds.default(30_000),
    WORKER_LOCK_DURATION_MS: milliseconds.default(30_000),
    // Whole UTC days of ledger rows kept before today; rollups are kept for good.
    OSM_LOG_RETENTION_DAYS: z.coerce.number().int().min(1).max(36_500).default(30),
    LOG_LEVEL: z
      .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
      .default("info"),
  })
  .superRefine(checkOneRedis);

export type EnvResult = { ok: true; config: WorkerConfig } | { ok: false; line: string };

/** Never exits: main.ts prints `line` and exits, so tests can check the message. */
export function parseWorkerEnv(env: NodeJS.ProcessEnv): EnvResult {
  const parsed = workerEnvSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { ok: false, line: `osm worker: invalid ${issue.path.join(".")}: ${issue.message}` };
  }
  const e = parsed.data;
  return {
    ok: true,
    config: {
      databaseUrl: e.DATABASE_URL,
      redis: redisTargetFromEnv(e),
      redisPrefix: e.OSM_REDIS_PREFIX,
      metricsPort: e.WORKER_METRICS_PORT,
      concurrency: e.WORKER_CONCURRENCY,
      stalledIntervalMs: e.WORKER_STALLED_INTERVAL_MS,
      lockDurationMs: e.WORKER_LOCK_DURATION_MS,
      logLevel: e.LOG_LEVEL,
      secret: e.OSM_SECRET,
      allowPrivateUpstreams: e.OSM_ALLOW_PRIVATE_UPSTREAMS,
      retentionDays: e.OSM_LOG_RETENTION_DAYS,
    },
  };
}

import { appEnvSchema, commonConfig, type EnvResult, parseEnv, port } from "@osm/env/common";
import { z } from "zod";
import type { WorkerConfig } from "./worker.ts";

const milliseconds = z.coerce.number().int().min(100).max(3_600_000);

/**
 * Everything the worker reads from the environment, validated once at start. Its OSM_SECRET opens
 * the webhooks' signing secrets (sealed by the API) and must match the database.
 */
export const workerEnvSchema = appEnvSchema({
  WORKER_METRICS_PORT: port.default(9464),
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(4),
  // BullMQ's defaults; tests shorten them so that a killed worker's job comes back in seconds.
  WORKER_STALLED_INTERVAL_MS: milliseconds.default(30_000),
  WORKER_LOCK_DURATION_MS: milliseconds.default(30_000),
  // Whole UTC days of ledger rows kept before today; rollups are kept for good.
  OSM_LOG_RETENTION_DAYS: z.coerce.number().int().min(1).max(36_500).default(30),
});

export function parseWorkerEnv(env: NodeJS.ProcessEnv): EnvResult<WorkerConfig> {
  return parseEnv("worker", workerEnvSchema, env, (e) => ({
    ...commonConfig(e),
    metricsPort: e.WORKER_METRICS_PORT,
    concurrency: e.WORKER_CONCURRENCY,
    stalledIntervalMs: e.WORKER_STALLED_INTERVAL_MS,
    lockDurationMs: e.WORKER_LOCK_DURATION_MS,
    retentionDays: e.OSM_LOG_RETENTION_DAYS,
  }));
}

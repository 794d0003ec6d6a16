import type { WorkerConfig } from "@osm/worker/worker";
import type { TestServices } from "./context.ts";

/**
 * A worker on the test file's database and Redis prefix, with BullMQ's own timings; tests that
 * kill workers shorten `stalledIntervalMs` / `lockDurationMs` so a lost job comes back quickly.
 */
export function testWorkerConfig(
  services: TestServices,
  overrides: Partial<WorkerConfig> = {},
): WorkerConfig {
  return {
    databaseUrl: services.databaseUrl,
    redis: services.redis,
    redisPrefix: services.redisPrefix,
    metricsPort: 0,
    concurrency: 2,
    stalledIntervalMs: 30_000,
    lockDurationMs: 30_000,
    logLevel: "silent",
    ...overrides,
  };
}

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createDb } from "@osm/db/client";
import { runMigrations } from "@osm/db/migrate";
import { bullPrefix, enqueueUsageBatch, queueNames } from "@osm/jobs/queues";
import { createRedis, type RedisClient } from "@osm/redis/connect";
import { createTestServices, type TestServices } from "@osm/testing/context";
import { freePort, type RunningPostgres, startPostgres } from "@osm/testing/services";
import { runTotals, totalsOf, usageEvent } from "@osm/testing/usage-events";
import { waitFor } from "@osm/testing/wait";
import { Queue } from "bullmq";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type RunningWorker, startWorker } from "../src/worker.ts";

// The worker's PostgreSQL goes away for 10 s while usage batches keep arriving, then comes back.
// The run's global PostgreSQL serves every other test file, so this one stops a throwaway
// cluster of its own; Redis (the queue) is the shared one, under a prefix of this file.

const outageMs = 10_000;
const batches = 20;
const perBatch = 25;

let services: TestServices;
let dataDir: string;
let pg: RunningPostgres;
let pgUp = false;
let ledger: ReturnType<typeof createDb>;
let worker: RunningWorker;
let redis: RedisClient;
let queue: Queue;

beforeAll(async () => {
  services = await createTestServices();
  dataDir = mkdtempSync(join(tmpdir(), "osm-pg-outage-"));
  pg = startPostgres({ dataDir, port: await freePort(), ephemeral: true });
  pgUp = true;
  const admin = createDb({ url: pg.adminUrl, max: 1 });
  await admin.sql.unsafe("create database osm");
  await admin.close();
  await runMigrations(pg.urlFor("osm"));
  ledger = createDb({ url: pg.urlFor("osm"), max: 2, applicationName: "osm-test" });
  worker = await startWorker({
    databaseUrl: pg.urlFor("osm"),
    redis: services.redis,
    redisPrefix: services.redisPrefix,
    metricsPort: 0,
    concurrency: 4,
    stalledIntervalMs: 30_000,
    lockDurationMs: 30_000,
    logLevel: "silent",
  });
  redis = createRedis(services.redis, { maxRetriesPerRequest: null });
  queue = new Queue(queueNames.usage, {
    connection: redis,
    prefix: bullPrefix(services.redisPrefix),
  });
});

afterAll(async () => {
  if (pg && !pgUp) pg.start();
  await worker?.close();
  await queue?.close();
  await redis?.quit();
  await ledger?.close();
  pg?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  await services?.close();
});

/** The ledger and totals of the throwaway database, with the helpers of the other files. */
const totals = () => runTotals({ ...services, db: ledger.db, sql: ledger.sql }, "outage");

it("lands every batch that arrived during a 10 s PostgreSQL outage, once, when it returns", async () => {
  const events = Array.from({ length: batches * perBatch }, (_, i) => usageEvent("outage", i));
  // The pool is connected before the outage: what comes back must be a reconnect.
  await enqueueUsageBatch(queue, { events: events.slice(0, perBatch) }, "outage-warm");
  await waitFor("the warm-up batch", async () =>
    (await queue.getJobState("outage-warm")) === "completed" ? true : undefined,
  );

  pg.stop();
  pgUp = false;
  const stoppedAt = performance.now();
  for (let b = 0; b < batches; b++) {
    const slice = events.slice(b * perBatch, (b + 1) * perBatch);
    await enqueueUsageBatch(queue, { events: slice }, `outage-${b}`);
    // A producer that retried: batch 7 once more, under another job id.
    if (b === 7) await enqueueUsageBatch(queue, { events: slice }, "outage-7-again");
    await sleep(outageMs / batches);
  }
  const first = await queue.getJob("outage-0");
  const during = await queue.getJobCounts("failed", "completed", "delayed");
  const downMs = performance.now() - stoppedAt;

  pg.start();
  pgUp = true;
  const startedAt = performance.now();
  const jobs = batches + 2;
  await waitFor(
    "every batch to land",
    async () => {
      const counts = await queue.getJobCounts("completed", "failed");
      if (counts.failed) throw new Error(`${counts.failed} batch(es) failed for good`);
      return counts.completed === jobs ? true : undefined;
    },
    // The retry schedule puts the last attempt of a batch at most about 8 s after the return.
    20_000,
  );
  const drainMs = performance.now() - startedAt;

  // Nothing landed or failed for good while PostgreSQL was down: the batches were retrying.
  expect(during.completed).toBe(1);
  expect(during.failed).toBe(0);
  expect(during.delayed).toBeGreaterThan(0);
  expect(first?.attemptsMade).toBeGreaterThanOrEqual(3);
  expect(await totals()).toEqual(totalsOf(events));
  const completed = await queue.getCompleted();
  const attempts = completed.map((j) => j.attemptsMade);
  console.info(
    `PostgreSQL down ${(downMs / 1000).toFixed(1)} s; ${jobs} batches drained ` +
      `${drainMs.toFixed(0)} ms after it returned; attempts per batch max ${Math.max(...attempts)}`,
  );
});

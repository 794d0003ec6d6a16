import { enqueueUsageBatch, legacyBullPrefix, queueNames } from "@osm/jobs/queues";
import { createRedis, type RedisClient } from "@osm/redis/connect";
import { createTestServices, type TestServices } from "@osm/testing/context";
import { runTotals, totalsOf, usageEvent } from "@osm/testing/usage-events";
import { waitFor } from "@osm/testing/wait";
import { testWorkerConfig } from "@osm/testing/worker";
import { Queue } from "bullmq";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type RunningWorker, startWorker } from "../src/worker.ts";

// An upgrade from a release that queued under `${prefix}bull` (before the Redis Cluster hash
// tag): usage the old proxies queued before they stopped must still reach the ledger.
let services: TestServices;
let redis: RedisClient;
let legacy: Queue;
let worker: RunningWorker | undefined;

beforeAll(async () => {
  services = await createTestServices();
  redis = createRedis(services.redis, { maxRetriesPerRequest: null });
  legacy = new Queue(queueNames.usage, {
    connection: redis,
    prefix: legacyBullPrefix(services.redisPrefix),
  });
});
afterAll(async () => {
  await worker?.close();
  await legacy.close();
  redis.disconnect();
  await services.close();
});

it("lands the batches left under the old queue prefix once, then stops consuming it", async () => {
  const events = Array.from({ length: 30 }, (_, i) => usageEvent("upgrade", i));
  for (let i = 0; i < 3; i++)
    await enqueueUsageBatch(legacy, { events: events.slice(i * 10, i * 10 + 10) });

  worker = await startWorker(testWorkerConfig(services));
  await waitFor("the old batches in the ledger", async () =>
    (await runTotals(services, "upgrade")).rows === events.length ? true : undefined,
  );
  expect(await runTotals(services, "upgrade")).toEqual(totalsOf(events));
  await waitFor("the old queue to empty", async () => {
    const counts = await legacy.getJobCounts("waiting", "active", "delayed", "prioritized");
    return Object.values(counts).every((n) => n === 0) ? true : undefined;
  });
  expect(await legacy.getCompletedCount()).toBe(3);
  await waitFor("the old-prefix consumer to stop", async () =>
    (await legacy.getWorkersCount()) === 0 ? true : undefined,
  );
});

import { bullPrefix, enqueueUsageBatch, queueNames } from "@osm/jobs/queues";
import { createRedis, type RedisClient } from "@osm/redis/connect";
import { createTestServices, type TestServices } from "@osm/testing/context";
import { runTotals, totalsOf, usageEvent } from "@osm/testing/usage-events";
import { waitFor } from "@osm/testing/wait";
import { testWorkerConfig } from "@osm/testing/worker";
import { Queue } from "bullmq";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type RunningWorker, startWorker } from "../src/worker.ts";

// Two workers on one deployment prefix take batches from the same queue at once. Producers that
// retried put some batches in twice, so both workers race on the same request ids and rollup
// rows; one worker is closed gracefully half-way through and the other finishes the queue.

const batches = 100;
const perBatch = 50;
const retried = 20;

let services: TestServices;
let workers: RunningWorker[] = [];
let redis: RedisClient;
let queue: Queue;

const start = () => startWorker(testWorkerConfig(services));

beforeAll(async () => {
  services = await createTestServices();
  workers = await Promise.all([start(), start()]);
  redis = createRedis(services.redis, { maxRetriesPerRequest: null });
  queue = new Queue(queueNames.usage, {
    connection: redis,
    prefix: bullPrefix(services.redisPrefix),
  });
});

afterAll(async () => {
  await Promise.all(workers.map((w) => w.close()));
  await queue?.close();
  await redis?.quit();
  await services?.close();
});

/** What one worker says it landed, from its own /metrics. */
async function landedBy(worker: RunningWorker) {
  const text = await (await fetch(`http://127.0.0.1:${worker.metricsPort}/metrics`)).text();
  const count = (result: string) =>
    Number(
      new RegExp(`^osm_worker_events_total\\{result="${result}"\\} (\\d+)$`, "m").exec(text)?.[1] ??
        0,
    );
  return { inserted: count("inserted"), duplicates: count("duplicate") };
}

it("lands 5,000 events once with two workers, one of them closed gracefully mid-way", async () => {
  const [first, second] = workers as [RunningWorker, RunningWorker];
  const events = Array.from({ length: batches * perBatch }, (_, i) => usageEvent("pair", i));
  const slice = (b: number) => events.slice(b * perBatch, (b + 1) * perBatch);
  // Every batch at once, as many proxies would; the retried copies interleaved with the rest.
  await Promise.all([
    ...Array.from({ length: batches }, (_, b) => enqueueUsageBatch(queue, { events: slice(b) })),
    ...Array.from({ length: retried }, (_, r) =>
      enqueueUsageBatch(queue, { events: slice(r * 5) }),
    ),
  ]);

  const landedAtClose = await waitFor("a fifth of the events to land", async () => {
    const { rows } = await runTotals(services, "pair");
    return rows >= events.length / 5 ? rows : undefined;
  });
  const firstBeforeClose = await landedBy(first);
  await first.close();
  // Mid-way: otherwise the close proves nothing.
  expect(landedAtClose).toBeLessThan(events.length);
  expect(firstBeforeClose.inserted).toBeGreaterThan(0);

  await waitFor(
    "the queue to drain",
    async () => {
      const counts = await queue.getJobCounts("completed", "failed", "active", "waiting");
      if (counts.failed) throw new Error(`${counts.failed} batch(es) failed`);
      return counts.completed === batches + retried ? true : undefined;
    },
    30_000,
  );
  expect(await runTotals(services, "pair")).toEqual(totalsOf(events));

  // Every event counted once as inserted, every retried copy once as a duplicate, across both.
  const results = (await queue.getCompleted(0, -1)).map((job) => job.returnvalue);
  expect(results.reduce((n, r) => n + r.inserted, 0)).toBe(events.length);
  expect(results.reduce((n, r) => n + r.duplicates, 0)).toBe(retried * perBatch);
  // Both took part: the first landed what it had at the close and finished its active batches.
  const secondInserted = (await landedBy(second)).inserted;
  const firstInserted = events.length - secondInserted;
  expect(firstInserted).toBeGreaterThanOrEqual(firstBeforeClose.inserted);
  expect(secondInserted).toBeGreaterThan(0);
  console.info(
    `closed the first worker at ${landedAtClose} of ${events.length} events landed; ` +
      `it inserted ${firstInserted}, the second ${secondInserted}`,
  );
});

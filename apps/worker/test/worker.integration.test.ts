import {
  bullPrefix,
  enqueueUsageBatch,
  jobNames,
  queueNames,
  usageJobOptions,
} from "@osm/jobs/queues";
import { createRedis, type RedisClient } from "@osm/redis/connect";
import { createTestServices, type TestServices } from "@osm/testing/context";
import { runTotals, totalsOf, usageEvent } from "@osm/testing/usage-events";
import { waitFor } from "@osm/testing/wait";
import { testWorkerConfig } from "@osm/testing/worker";
import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningWorker, startWorker } from "../src/worker.ts";

let services: TestServices;
let worker: RunningWorker;
let redis: RedisClient;
let queue: Queue;

beforeAll(async () => {
  services = await createTestServices();
  worker = await startWorker(
    testWorkerConfig(services, {
      concurrency: 4,
    }),
  );
  redis = createRedis(services.redis, { maxRetriesPerRequest: null });
  queue = new Queue(queueNames.usage, {
    connection: redis,
    prefix: bullPrefix(services.redisPrefix),
  });
});

afterAll(async () => {
  await worker?.close();
  await queue?.close();
  await redis?.quit();
  await services?.close();
});

const metricsText = async () => {
  const res = await fetch(`http://127.0.0.1:${worker.metricsPort}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
};

describe("usage worker", () => {
  it("lands enqueued batches in the ledger once, redelivered events included", async () => {
    const events = Array.from({ length: 500 }, (_, i) => usageEvent("happy", i));
    for (let b = 0; b < 5; b++)
      await enqueueUsageBatch(queue, { events: events.slice(b * 100, (b + 1) * 100) });
    // A producer that retried: the same events again under other job ids.
    await enqueueUsageBatch(queue, { events: events.slice(0, 100) });
    await enqueueUsageBatch(queue, { events: [events[7]!, events[7]!, events[450]!] });

    await waitFor("every batch to complete", async () =>
      (await queue.getJobCounts("completed")).completed === 7 ? true : undefined,
    );
    expect(await runTotals(services, "happy")).toEqual(totalsOf(events));

    const results = (await queue.getCompleted()).map((job) => job.returnvalue);
    expect(results.reduce((n, r) => n + r.inserted, 0)).toBe(500);
    expect(results.reduce((n, r) => n + r.duplicates, 0)).toBe(103);
  });

  it("fails an invalid batch for good, without retries, and keeps it for inspection", async () => {
    // Bypasses enqueueUsageBatch, which would refuse this payload at the producer.
    const job = await queue.add(
      jobNames.usageBatch,
      { events: [{ ...usageEvent("invalid", 1), costNanos: 12.5 }] },
      usageJobOptions,
    );
    const failed = await waitFor("the job to fail", async () =>
      (await job.getState()) === "failed" ? await queue.getJob(job.id!) : undefined,
    );
    expect(failed?.failedReason).toMatch(/validation/);
    expect(failed?.failedReason).toMatch(/events\.0\.costNanos/);
    expect(failed?.attemptsMade).toBe(1);
    expect((await queue.getFailed()).map((j) => j.id)).toContain(job.id);
    expect((await runTotals(services, "invalid")).rows).toBe(0);
  });

  it("serves its counters and the queue gauges on /metrics, and /healthz", async () => {
    const text = await metricsText();
    expect(text).toMatch(/^osm_worker_events_total\{result="inserted"\} 500$/m);
    expect(text).toMatch(/^osm_worker_events_total\{result="duplicate"\} 103$/m);
    expect(text).toMatch(/^osm_worker_jobs_failed_total\{queue="usage",final="true"\} 1$/m);
    expect(text).toMatch(/^osm_worker_batch_seconds_count 7$/m);
    expect(text).toMatch(/^osm_worker_queue_depth\{queue="usage",state="failed"\} 1$/m);
    expect(text).toMatch(/^osm_worker_queue_depth\{queue="usage",state="completed"\} 7$/m);
    expect(text).toMatch(/^osm_worker_queue_lag_seconds\{queue="usage"\} 0$/m);

    const health = await fetch(`http://127.0.0.1:${worker.metricsPort}/healthz`);
    expect(health.status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${worker.metricsPort}/nope`)).status).toBe(404);
  });

  it("reports the age of the oldest waiting job as queue lag", async () => {
    // A paused queue keeps its jobs waiting while the worker stays up.
    await queue.pause();
    try {
      await enqueueUsageBatch(queue, { events: [usageEvent("lag", 1)] }, "lag-probe");
      const waiting = await queue.getJob("lag-probe");
      await waitFor("the lag to reach a second", async () => {
        const match = /^osm_worker_queue_lag_seconds\{queue="usage"\} (.+)$/m.exec(
          await metricsText(),
        );
        return Number(match?.[1]) >= 1 ? true : undefined;
      });
      expect(waiting?.timestamp).toBeLessThanOrEqual(Date.now() - 1000);
    } finally {
      await queue.resume();
    }
    await waitFor("the lag probe to complete", async () =>
      (await queue.getJobState("lag-probe")) === "completed" ? true : undefined,
    );
  });

  it("closes gracefully: the active batch finishes before close() resolves", async () => {
    const events = Array.from({ length: 100 }, (_, i) => usageEvent("close", i));
    // A test transaction holds the unique index entry of one request id: the worker's insert
    // waits on it, mid-job, until the test lets go.
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let locked!: () => void;
    const isLocked = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const holder = services.sql
      .begin(async (tx) => {
        await tx`insert into usage_ledger (request_id, project_id, key_id, outcome, status, admitted_at)
          values (${events[50]!.requestId}, 'prj_worker', 'key_other', 'allowed', 200, now())`;
        locked();
        await released;
        throw new Error("rollback");
      })
      .catch(() => {});
    await isLocked;

    await enqueueUsageBatch(queue, { events }, "graceful");
    await waitFor("the worker to block on the held row", async () => {
      const [row] = await services.sql`
        select count(*)::int as n from pg_stat_activity
        where datname = current_database() and application_name = 'osm-worker'
          and wait_event_type = 'Lock'`;
      return row?.n === 1 ? true : undefined;
    });
    expect(await queue.getJobState("graceful")).toBe("active");

    let closed = false;
    const closing = worker.close().then(() => {
      closed = true;
    });
    // close() must be waiting on the job, not on a timer: give it ample time to wrongly resolve.
    await new Promise((r) => setTimeout(r, 300));
    expect(closed).toBe(false);

    release();
    await holder;
    await closing;
    expect(await queue.getJobState("graceful")).toBe("completed");
    expect(await runTotals(services, "close")).toEqual(totalsOf(events));
  });
});

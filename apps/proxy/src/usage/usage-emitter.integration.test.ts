import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { bullPrefix, queueNames } from "@osm/jobs/queues";
import { createRedis } from "@osm/redis/connect";
import { createTestServices, type TestServices } from "@osm/testing/context";
import { usageEvent } from "@osm/testing/usage-events";
import { Queue } from "bullmq";
import { pino } from "pino";
import { afterAll, beforeAll, expect, it } from "vitest";
import { SpillFile } from "./spill-file.ts";
import { UsageEmitter } from "./usage-emitter.ts";

let services: TestServices;
beforeAll(async () => {
  services = await createTestServices();
});
afterAll(() => services.close());

it("goes back to Redis after a stalled append while events keep coming, instead of spilling for good", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "osm-emitter-"));
  const connection = createRedis(services.redis, { maxRetriesPerRequest: 1 });
  const control = createRedis(services.redis, { maxRetriesPerRequest: 1 });
  const queue = new Queue(queueNames.usage, {
    connection,
    prefix: bullPrefix(services.redisPrefix),
  });
  const emitter = new UsageEmitter({
    redis: connection,
    queue,
    spill: new SpillFile(dataDir),
    log: pino({ level: "silent" }),
    prefix: services.redisPrefix,
    groupWindowMs: 200,
    enqueueTimeoutMs: 100,
    redisReady: () => connection.status === "ready",
  });
  try {
    await emitter.start();
    let n = 0;
    const emit = () => emitter.emit(usageEvent("stall", n++));
    await emit();
    expect(emitter.spilled).toBe(0);
    // Writes wait for 400 ms: the next append times out and Redis is suspended for a second.
    await control.call("CLIENT", "PAUSE", "400", "WRITE");
    // A steady trickle through the stall and the suspension, and well past both.
    const until = Date.now() + 3_000;
    while (Date.now() < until) {
      await emit();
      await sleep(20);
    }
    const spilledDuringStall = emitter.spilled;
    expect(spilledDuringStall).toBeGreaterThan(0);
    for (let i = 0; i < 20; i++) await emit();
    expect(emitter.spilled).toBe(spilledDuringStall);
  } finally {
    await emitter.close();
    await queue.close();
    connection.disconnect();
    control.disconnect();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

it("moves a steady stream of events into one job per group window, every event in one of them", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "osm-emitter-"));
  const connection = createRedis(services.redis, { maxRetriesPerRequest: 1 });
  const prefix = `${services.redisPrefix}window:`;
  const queue = new Queue(queueNames.usage, { connection, prefix: bullPrefix(prefix) });
  const emitter = new UsageEmitter({
    redis: connection,
    queue,
    spill: new SpillFile(dataDir),
    log: pino({ level: "silent" }),
    prefix,
    groupWindowMs: 50,
    enqueueTimeoutMs: 2_000,
    redisReady: () => connection.status === "ready",
  });
  try {
    await emitter.start();
    // An event every millisecond or so for 600 ms: each move takes a few round trips, during
    // which more events arrive; they wait for the next window instead of a job of their own.
    let n = 0;
    const until = Date.now() + 600;
    while (Date.now() < until) {
      await emitter.emit(usageEvent("window", n++));
      await sleep(1);
    }
    await emitter.close();
    expect(emitter.spilled).toBe(0);
    const jobs = await queue.getJobs(["waiting"]);
    const ids = jobs.flatMap((j) => (j.data as { events: { requestId: string }[] }).events);
    expect(new Set(ids.map((e) => e.requestId)).size).toBe(n);
    expect(ids).toHaveLength(n);
    // 600 ms of 50 ms windows, and the close's final move.
    expect(jobs.length).toBeLessThanOrEqual(600 / 50 + 3);
    expect(n).toBeGreaterThan(100);
  } finally {
    await emitter.close();
    await queue.close();
    connection.disconnect();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { bullPrefix, enqueueUsageBatch, queueNames } from "@osm/jobs/queues";
import { createRedis, type RedisClient } from "@osm/redis/connect";
import { redisEnvOf } from "@osm/redis/target";
import { createTestServices, type TestServices } from "@osm/testing/context";
import { runTotals, totalsOf, usageEvent } from "@osm/testing/usage-events";
import { waitFor } from "@osm/testing/wait";
import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../../", import.meta.url));
// This file's database is fresh: the first worker to start records this secret's check value.
const secret = "worker-main-test-secret-0123456789abcdef";

let services: TestServices;
let redis: RedisClient;
let queue: Queue;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  services = await createTestServices();
  redis = createRedis(services.redis, { maxRetriesPerRequest: null });
  queue = new Queue(queueNames.usage, {
    connection: redis,
    prefix: bullPrefix(services.redisPrefix),
  });
});

afterAll(async () => {
  for (const child of children) killGroup(child, "SIGKILL");
  await queue?.close();
  await redis?.quit();
  await services?.close();
});

/**
 * The worker as `pnpm --filter @osm/worker start` runs it. tsx runs the script in a child node
 * process, so the worker gets a process group of its own: SIGKILL must reach the process that
 * holds the job, not only tsx.
 */
function spawnWorker(concurrency: number, extraEnv: Record<string, string> = {}) {
  const child = spawn(`${root}node_modules/.bin/tsx`, ["apps/worker/src/main.ts"], {
    cwd: root,
    detached: true,
    stdio: ["ignore", "pipe", "inherit"],
    env: {
      ...process.env,
      DATABASE_URL: services.databaseUrl,
      ...redisEnvOf(services.redis),
      OSM_REDIS_PREFIX: services.redisPrefix,
      OSM_SECRET: secret,
      WORKER_METRICS_PORT: "0",
      WORKER_CONCURRENCY: String(concurrency),
      // A dead worker's lock lapses after 2 s and the next stalled check (every 0.5 s) puts
      // its job back in the wait list, instead of after BullMQ's 30 s defaults.
      WORKER_LOCK_DURATION_MS: "2000",
      WORKER_STALLED_INTERVAL_MS: "500",
      LOG_LEVEL: "warn",
      ...extraEnv,
    },
  });
  children.add(child);
  child.once("exit", () => children.delete(child));
  const logs: string[] = [];
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => logs.push(chunk));
  return { child, logs: () => logs.join("").split("\n").filter(Boolean) };
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals) {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // already gone
  }
}

describe("worker process", () => {
  it("refuses to start with one line naming an invalid variable", async () => {
    const child = spawn(`${root}node_modules/.bin/tsx`, ["apps/worker/src/main.ts"], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        DATABASE_URL: services.databaseUrl,
        ...redisEnvOf(services.redis),
        OSM_SECRET: secret,
        WORKER_CONCURRENCY: "many",
      },
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    const [code] = await once(child, "exit");
    expect(code).toBe(1);
    expect(stderr.trim().split("\n")).toEqual([
      expect.stringMatching(/^osm worker: invalid WORKER_CONCURRENCY: /),
    ]);
  });

  it("loses nothing and doubles nothing when the worker is killed with SIGKILL mid-queue", async () => {
    const events = Array.from({ length: 200 * 50 }, (_, i) => usageEvent("crash", i));
    for (let b = 0; b < 200; b++)
      await enqueueUsageBatch(queue, { events: events.slice(b * 50, (b + 1) * 50) }, `crash-${b}`);

    const { child: first } = spawnWorker(2);
    const landedAtKill = await waitFor(
      "the first worker to land some batches",
      async () => {
        const { rows } = await runTotals(services, "crash");
        return rows >= 1_000 ? rows : undefined;
      },
      20_000,
    );
    killGroup(first, "SIGKILL");
    await once(first, "exit");
    const atKill = await queue.getJobCounts("active", "waiting", "completed");
    // Mid-way, with a job still held by the dead worker: otherwise this test proves nothing.
    expect(landedAtKill).toBeLessThan(events.length);
    expect(atKill.active).toBeGreaterThan(0);

    const startedAt = performance.now();
    const { child: second, logs } = spawnWorker(4);
    await waitFor(
      "the queue to drain",
      async () => {
        const counts = await queue.getJobCounts("completed", "failed", "active", "waiting");
        if (counts.failed) throw new Error(`${counts.failed} batch(es) failed`);
        return counts.completed === 200 ? counts : undefined;
      },
      20_000,
    );
    const drainMs = performance.now() - startedAt;

    expect(await runTotals(services, "crash")).toEqual(totalsOf(events));
    // The dead worker's jobs came back through BullMQ's stalled-job check.
    const stalled = logs().filter((line) => JSON.parse(line).msg.includes("stalled"));
    expect(stalled.length).toBe(atKill.active);

    // The second worker stops on SIGTERM with status 0 (tsx passes the signal on to it).
    second.kill("SIGTERM");
    const [code] = await once(second, "exit");
    expect(code).toBe(0);
    console.info(
      `killed at ${landedAtKill} of 10,000 events with ${atKill.active} job(s) active; ` +
        `restarted worker drained the rest in ${drainMs.toFixed(0)} ms`,
    );
  });
});

import { type ChildProcess, spawn } from "node:child_process";
import { bullPrefix, enqueueUsageBatch, queueNames } from "@osm/jobs/queues";
import type { UsageEvent } from "@osm/jobs/usage-event";
import { createRedis, type RedisClient } from "@osm/redis/connect";
import { redisEnvOf } from "@osm/redis/target";
import { testSecret } from "@osm/testing/api";
import { createTestServices, type TestServices } from "@osm/testing/context";
import { freePort } from "@osm/testing/services";
import { Queue } from "bullmq";
import { afterAll, beforeAll, expect, it } from "vitest";

// Design under test: jobs carry many events (the proxy moves its inbox in batches of up to
// 500), and a worker killed with SIGKILL in the middle of them loses nothing and counts nothing
// twice: its active batches stall, come back to the next worker, and land once, to the nano.

const keys = 12;
const batches = 20;
const perBatch = 500;
const redelivered = 6;

let services: TestServices;
let redis: RedisClient;
let queue: Queue;
const children: ChildProcess[] = [];

beforeAll(async () => {
  services = await createTestServices();
  redis = createRedis(services.redis, { maxRetriesPerRequest: null });
  queue = new Queue(queueNames.usage, {
    connection: redis,
    prefix: bullPrefix(services.redisPrefix),
  });
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  await queue?.close();
  await redis?.quit();
  await services?.close();
});

async function spawnWorker(): Promise<ChildProcess> {
  const port = await freePort();
  // node itself loads tsx: a SIGKILL then reaches the worker, not a tsx wrapper whose orphaned
  // child would outlive the run and keep vitest from exiting.
  const child = spawn(process.execPath, ["--import", "tsx", "apps/worker/src/main.ts"], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: services.databaseUrl,
      ...redisEnvOf(services.redis),
      OSM_REDIS_PREFIX: services.redisPrefix,
      OSM_SECRET: testSecret,
      WORKER_METRICS_PORT: String(port),
      // A killed worker's batches come back within about a second.
      WORKER_STALLED_INTERVAL_MS: "1000",
      WORKER_LOCK_DURATION_MS: "1000",
      LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  children.push(child);
  return child;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

it("lands every event of many-event batches once when the worker is killed with SIGKILL mid-way", async () => {
  const projectId = `prj_${Math.random().toString(36).slice(2, 10)}`;
  const { sql } = services;
  await sql`insert into projects (id, name) values (${projectId}, 'kill-batched')`;
  const keyIds = Array.from({ length: keys }, (_, i) => `key_${projectId.slice(4)}_${i}`);
  for (const id of keyIds)
    await sql`insert into api_keys (id, project_id, label, secret_hash, display)
      values (${id}, ${projectId}, ${id}, ${`hash_${id}`}, 'osm_x…x')`;

  // Costs up to ~$9,000 each: a float sum would round, only integer nanos come out exact.
  // Spread over the last 24 UTC hours, inside the ledger's retention: the spawned worker's
  // housekeeping drops ledger rows older than OSM_LOG_RETENTION_DAYS (30), and with dates
  // before that it deleted whatever had landed when its first pass ran (one batch of 500).
  const thisHour = Math.floor(Date.now() / 3_600_000) * 3_600_000;
  const events: UsageEvent[] = Array.from({ length: batches * perBatch }, (_, i) => ({
    requestId: `req_${projectId.slice(4)}_${String(i).padStart(6, "0")}`,
    projectId,
    keyId: keyIds[i % keys]!,
    model: i % 3 === 0 ? "gpt-4o-mini" : "claude-haiku",
    provider: "fake-openai",
    outcome: i % 17 === 0 ? "error" : "allowed",
    code: i % 17 === 0 ? "upstream_error" : null,
    status: i % 17 === 0 ? 502 : 200,
    stream: i % 2 === 0,
    inputTokens: 10 + (i % 50),
    outputTokens: 16,
    costNanos: String(1_000_003n * BigInt(i) + 9_007_199_254_740_993n / 1_000_000n),
    reservedNanos: "0",
    latencyMs: 3,
    admittedAt: new Date(thisHour - (i % 24) * 3_600_000).toISOString(),
  }));
  const slice = (b: number) => events.slice(b * perBatch, (b + 1) * perBatch);
  for (let b = 0; b < batches; b++) await enqueueUsageBatch(queue, { events: slice(b) });
  // A producer that retried after a lost acknowledgement: the same events under new job ids.
  for (let r = 0; r < redelivered; r++)
    await enqueueUsageBatch(queue, { events: slice(r * 3) }, `retry-${projectId}-${r}`);

  const rows = async () =>
    (
      await sql<{ n: number }[]>`
      select count(*)::int as n from usage_ledger where project_id = ${projectId}`
    )[0]!.n;

  const first = await spawnWorker();
  const landedAtKill = await until(
    "a fifth of the events to land",
    async () => {
      const n = await rows();
      return n >= events.length / 5 ? n : undefined;
    },
    120_000,
  );
  first.kill("SIGKILL");
  await new Promise((r) => first.once("exit", r));
  // Mid-way, or the kill proves nothing.
  expect(landedAtKill).toBeLessThan(events.length);

  await spawnWorker();
  await until(
    "the queue to drain",
    async () => {
      const counts = await queue.getJobCounts(
        "completed",
        "failed",
        "active",
        "waiting",
        "delayed",
      );
      if (counts.failed) throw new Error(`${counts.failed} batch(es) failed`);
      return counts.completed === batches + redelivered ? true : undefined;
    },
    120_000,
  );

  const expectedCost = events.reduce((sum, e) => sum + BigInt(e.costNanos), 0n);
  const [ledger] = await sql<{ n: number; distinct_ids: number; cost: string }[]>`
    select count(*)::int as n, count(distinct request_id)::int as distinct_ids,
      sum(cost)::text as cost
    from usage_ledger where project_id = ${projectId}`;
  expect(ledger).toEqual({
    n: events.length,
    distinct_ids: events.length,
    cost: expectedCost.toString(),
  });

  const perKey = new Map<string, bigint>();
  for (const e of events) perKey.set(e.keyId, (perKey.get(e.keyId) ?? 0n) + BigInt(e.costNanos));
  const spend = await sql<{ key_id: string; cost: string }[]>`
    select key_id, sum(cost)::text as cost from key_spend_daily
    where key_id in ${sql(keyIds)} group by key_id order by key_id`;
  expect(Object.fromEntries(spend.map((r) => [r.key_id, r.cost]))).toEqual(
    Object.fromEntries([...perKey].sort().map(([k, v]) => [k, v.toString()])),
  );
  const [rollups] = await sql<{ hourly: string; daily: string; requests: number }[]>`
    select
      (select sum(cost)::text from usage_hourly where key_id in ${sql(keyIds)}) as hourly,
      (select sum(cost)::text from usage_daily where key_id in ${sql(keyIds)}) as daily,
      (select sum(requests)::int from usage_daily where key_id in ${sql(keyIds)}) as requests`;
  expect(rollups).toEqual({
    hourly: expectedCost.toString(),
    daily: expectedCost.toString(),
    requests: events.length,
  });
  console.info(
    `kill -9 of the worker at ${landedAtKill} of ${events.length} events (${perBatch} per job) landed; all landed once after`,
  );
  // Two tsx start-ups and 10,000 events on a shared 2-core machine.
}, 240_000);

import { budgetWindow, keyCounters } from "@osm/budget/redis-key-names";
import { bullPrefix, queueNames } from "@osm/jobs/queues";
import { inboxKeys, inboxRegistry } from "@osm/jobs/usage-inbox";
import { createRedis, type RedisClient } from "@osm/redis/connect";
import { Queue } from "bullmq";
import type { TestServices } from "./context.ts";

/** Events still in the proxies' usage inboxes (not yet moved into a queue job). */
async function inboxEvents(redis: RedisClient, prefix: string): Promise<number> {
  let n = 0;
  for (const id of await redis.smembers(inboxRegistry(prefix)))
    n += await redis.llen(inboxKeys(prefix, id).inbox);
  return n;
}

/**
 * Waits until the proxies' usage inboxes and the usage queue of this test's prefix are empty
 * and nothing is being ingested.
 */
export async function usageDrained(services: TestServices, deadlineMs = 15_000) {
  const connection = createRedis(services.redis, { maxRetriesPerRequest: null });
  const queue = new Queue(queueNames.usage, {
    connection,
    prefix: bullPrefix(services.redisPrefix),
  });
  try {
    const started = Date.now();
    for (;;) {
      const counts = {
        ...(await queue.getJobCounts("waiting", "active", "delayed", "prioritized")),
        inbox: await inboxEvents(connection, services.redisPrefix),
      };
      if (Object.values(counts).every((n) => n === 0)) return;
      if (Date.now() - started > deadlineMs)
        throw new Error(`usage queue not drained: ${JSON.stringify(counts)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await queue.close();
    connection.disconnect();
  }
}

/**
 * Money is conserved: for every key with a limit and every budget window it spent in, the
 * ledger's costs add up to exactly what the live counter settled. Returns the pairs compared.
 */
export async function moneyConservation(services: TestServices) {
  await usageDrained(services);
  const keys = await services.sql`
    select id, budget_period, spend_reset_at from api_keys where spend_limit is not null`;
  const rows = await services.sql`
    select key_id, admitted_at, cost::text as cost from usage_ledger
    where key_id in (select id from api_keys where spend_limit is not null)`;
  const ledger = new Map<string, bigint>();
  const byId = new Map(keys.map((k) => [k.id as string, k]));
  for (const row of rows) {
    const key = byId.get(row.key_id as string)!;
    // Raw rows may carry timestamps as text: normalise to Date.
    const resetAt = key.spend_reset_at ? new Date(key.spend_reset_at as string) : null;
    const window = budgetWindow(key.budget_period, resetAt, new Date(row.admitted_at as string));
    const id = `${row.key_id}|${window.id}`;
    ledger.set(id, (ledger.get(id) ?? 0n) + BigInt(row.cost as string));
  }
  const redis = createRedis(services.redis, { maxRetriesPerRequest: 2 });
  const mismatches: string[] = [];
  try {
    for (const [id, cost] of ledger) {
      const [keyId, windowId] = id.split("|") as [string, string];
      const spent = await redis.hget(
        keyCounters(services.redisPrefix, keyId, windowId).budget,
        "spent",
      );
      if (BigInt(spent ?? "0") !== cost) mismatches.push(`${id}: ledger ${cost}, counter ${spent}`);
    }
  } finally {
    redis.disconnect();
  }
  return { compared: ledger.size, mismatches };
}

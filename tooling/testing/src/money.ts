import { budgetWindow } from "@osm/budget/redis-key-names";
import { bullPrefix, queueNames } from "@osm/jobs/queues";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import type { TestServices } from "./context.ts";

/** Waits until the usage queue of this test's prefix is empty and nothing is being ingested. */
export async function usageDrained(services: TestServices, deadlineMs = 15_000) {
  const connection = new Redis(services.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(queueNames.usage, {
    connection,
    prefix: bullPrefix(services.redisPrefix),
  });
  try {
    const started = Date.now();
    for (;;) {
      const counts = await queue.getJobCounts("waiting", "active", "delayed", "prioritized");
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
  const redis = new Redis(services.redisUrl);
  const mismatches: string[] = [];
  try {
    for (const [id, cost] of ledger) {
      const [keyId, windowId] = id.split("|") as [string, string];
      const spent = await redis.hget(
        `${services.redisPrefix}{${keyId}}:budget:${windowId}`,
        "spent",
      );
      if (BigInt(spent ?? "0") !== cost) mismatches.push(`${id}: ledger ${cost}, counter ${spent}`);
    }
  } finally {
    redis.disconnect();
  }
  return { compared: ledger.size, mismatches };
}

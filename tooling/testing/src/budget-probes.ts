import { budgetWindow, keyCounters } from "@osm/budget/redis-key-names";
import { createRedis } from "@osm/redis/connect";
import type { TestServices } from "./context.ts";

// Probes of a monthly-budget key as the budget tests read it: one chat request's outcome, the
// live counters, the ledger's total. Shared by the one-Redis suites and the cluster ones.

export type ChatOutcome = { status: number; code?: string; requestId: string | null };

/** One chat completion through the proxy at `proxyUrl`; a stream counts only if it finished. */
export async function chatOutcome(
  proxyUrl: string,
  secret: string,
  body: Record<string, unknown>,
): Promise<ChatOutcome> {
  const res = await fetch(`${proxyUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
    body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], ...body }),
  });
  const text = await res.text();
  const requestId = res.headers.get("x-request-id");
  if (res.status !== 200)
    return { status: res.status, code: JSON.parse(text).error.code, requestId };
  if (body.stream && !text.includes("[DONE]"))
    return { status: 599, code: "stream_failed", requestId };
  return { status: 200, requestId };
}

/** The live spend and reservations of a monthly key's current window, in nano-USD. */
export async function budgetCounters(services: TestServices, keyId: string) {
  const window = budgetWindow("monthly", null, new Date());
  const k = keyCounters(services.redisPrefix, keyId, window.id).budget;
  const redis = createRedis(services.redis, { maxRetriesPerRequest: 2 });
  const [spent, reserved] = await redis
    .hmget(k, "spent", "reserved")
    .finally(() => redis.disconnect());
  return { spent: BigInt(spent ?? "0"), reserved: BigInt(reserved ?? "0") };
}

/** Waits until the ledger holds `expectedRows` rows of the key; their count and total cost. */
export async function ledgerTotal(services: TestServices, keyId: string, expectedRows: number) {
  for (let i = 0; i < 200; i++) {
    const [row] = await services.sql`
      select count(*)::int as n, coalesce(sum(cost), 0)::text as cost from usage_ledger where key_id = ${keyId}`;
    if (row!.n >= expectedRows)
      return { rows: row!.n as number, cost: BigInt(row!.cost as string) };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("ledger did not fill");
}

import { type GatewayStack, startGatewayStack } from "@osm/testing/gateway";
import { deleteKeysUnder } from "@osm/testing/redis";
import { startWorker } from "@osm/testing/services";
import { testWorkerConfig } from "@osm/testing/worker";
import { afterAll, beforeAll, expect, it } from "vitest";

// The budget model costs exactly 16,000 nano-USD per request (see budgetTenant).
const cost = 16_000n;

let stack: GatewayStack;
beforeAll(async () => {
  stack = await startGatewayStack();
});
afterAll(() => stack.close());

/** FLUSHALL for this test's tenant: every Redis key under its prefix, queues included. */
async function flushPrefix() {
  await deleteKeysUnder(stack.services.redis, stack.services.redisPrefix);
}

async function chat(secret: string) {
  const res = await fetch(`${stack.proxies[0]!.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
    body: JSON.stringify({
      model: "budget-model",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 16,
    }),
  });
  await res.text();
  return res.status;
}

async function ledgerRows(keyId: string, atLeast: number) {
  for (let i = 0; i < 200; i++) {
    const [row] = await stack.services.sql`
      select count(*)::int as n, coalesce(sum(cost), 0)::text as cost from usage_ledger where key_id = ${keyId}`;
    if (row!.n >= atLeast) return { n: row!.n as number, cost: BigInt(row!.cost as string) };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("ledger rows did not arrive");
}

async function successesUntilRefused(secret: string) {
  let ok = 0;
  for (let i = 0; i < 30; i++) {
    const status = await chat(secret);
    if (status !== 200) {
      expect(status).toBe(403);
      return ok;
    }
    ok++;
  }
  throw new Error("never refused");
}

it("rebuilds counters exactly from PostgreSQL when Redis is flushed after the queue drained", async () => {
  const t = await stack.budgetTenant("0.00016"); // 10 requests
  for (let i = 0; i < 4; i++) expect(await chat(t.secret)).toBe(200);
  await ledgerRows(t.key.id, 4);
  await flushPrefix();
  expect(await successesUntilRefused(t.secret)).toBe(6);
  const ledger = await ledgerRows(t.key.id, 11);
  const settled = ledger.cost;
  expect(settled).toBe(cost * 10n);
  const key = await stack.master.keys.get.query({ id: t.key.id });
  expect(key.spendUsd).toBe("0.00016");
});

it("bounds the overspend by the cost of the events lost when Redis is flushed with events queued", async () => {
  const t = await stack.budgetTenant("0.00016"); // 10 requests
  await stack.worker.close(); // events now wait in the queue
  const before: number[] = [];
  for (let i = 0; i < 4; i++) before.push(await chat(t.secret));
  expect(before).toEqual([200, 200, 200, 200]);
  await flushPrefix(); // the 4 queued events are gone, and with them the counter
  const worker = await startWorker(
    testWorkerConfig(stack.services, {
      stalledIntervalMs: 1000,
      lockDurationMs: 2000,
    }),
  );
  try {
    const after = await successesUntilRefused(t.secret);
    const ledger = await ledgerRows(t.key.id, after + 1);
    const lostEvents = 4 - (ledger.n - after - 1); // rows of the 4 early requests that survived
    const actualSpend = cost * BigInt(4 + after);
    const limit = cost * 10n;
    // docs/reliability.md: overspend ≤ cost of the lost events.
    expect(actualSpend - limit).toBeLessThanOrEqual(cost * BigInt(lostEvents));
    expect(lostEvents).toBe(4);
    console.info(
      `flush with 4 events queued: ${4 + after} successes on a 10-request budget, ${lostEvents} events lost`,
    );
  } finally {
    await worker.close();
  }
});

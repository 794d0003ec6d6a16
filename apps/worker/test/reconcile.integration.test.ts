import { budgetWindow } from "@osm/budget/redis-key-names";
import { createRedis, type RedisClient } from "@osm/redis/connect";
import { type GatewayStack, startGatewayStack } from "@osm/testing/gateway";
import { usageDrained } from "@osm/testing/money";
import { afterAll, beforeAll, expect, it } from "vitest";

let stack: GatewayStack;
let redis: RedisClient;
beforeAll(async () => {
  stack = await startGatewayStack();
  redis = createRedis(stack.services.redis, { maxRetriesPerRequest: 2 });
});
afterAll(async () => {
  redis.disconnect();
  await stack.close();
});

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

async function repairs(): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${stack.worker.metricsPort}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^osm_worker_reconcile_repairs_total\{kind="(\w+)"\} (\d+)/gm))
    out[m[1]!] = Number(m[2]);
  return out;
}

it("raises a counter that drifted below PostgreSQL and releases crashed reservations", async () => {
  const t = await stack.budgetTenant("0.00016");
  for (let i = 0; i < 3; i++) expect(await chat(t.secret)).toBe(200);
  await usageDrained(stack.services);
  const window = budgetWindow("monthly", null, new Date());
  const base = `${stack.services.redisPrefix}{${t.key.id}}`;
  // Drift: Redis lost two settlements; a crashed request left a reservation behind.
  await redis.hset(`${base}:budget:${window.id}`, "spent", "16000", "reserved", "99000");
  await redis.zadd(`${base}:resv-at:${window.id}`, Date.now() - 1, "req_crashed");
  await redis.hset(`${base}:resv:${window.id}`, "req_crashed", "99000");
  const before = await repairs();

  const result = await stack.worker.resetDue(new Date());
  expect(result.reconciled).toMatchObject({ countersRaised: 1, reservationsExpired: 1 });
  const [spent, reserved] = await redis.hmget(`${base}:budget:${window.id}`, "spent", "reserved");
  expect([spent, reserved]).toEqual(["48000", "0"]);
  const after = await repairs();
  expect((after.counter_raised ?? 0) - (before.counter_raised ?? 0)).toBe(1);
  expect((after.reservation_expired ?? 0) - (before.reservation_expired ?? 0)).toBe(1);

  // Never lowered: a counter above PostgreSQL (settlements not ingested yet) is left alone.
  await redis.hset(`${base}:budget:${window.id}`, "spent", "64000");
  await stack.worker.resetDue(new Date());
  expect(await redis.hget(`${base}:budget:${window.id}`, "spent")).toBe("64000");
});

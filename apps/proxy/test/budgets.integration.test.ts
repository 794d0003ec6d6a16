import { budgetWindow, keyCounters } from "@osm/budget/redis-key-names";
import { createRedis } from "@osm/redis/connect";
import { type GatewayStack, startGatewayStack } from "@osm/testing/gateway";
import { moneyConservation } from "@osm/testing/money";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ErrorBody } from "./error-body.ts";

// A model priced so that a request's worst case equals its actual cost: input free, $1 per 1M
// output tokens, and the fake answers exactly max_tokens (16) tokens. 16 tokens = 16,000 nanos.
const model = "budget-model";
const costNanos = 16_000n;
const usd = (nanos: bigint) => (Number(nanos) / 1e9).toFixed(9);

let stack: GatewayStack;

beforeAll(async () => {
  stack = await startGatewayStack();
  await stack.addProxy();
});
afterAll(() => stack.close());

async function budgetTenant(limitNanos: bigint, extra: Record<string, unknown> = {}) {
  return stack.budgetTenant(usd(limitNanos), extra);
}

type Outcome = { status: number; code?: string; requestId: string | null };

async function call(
  secret: string,
  proxyIndex: number,
  body: Record<string, unknown>,
): Promise<Outcome> {
  const res = await fetch(`${stack.proxies[proxyIndex]!.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], ...body }),
  });
  const text = await res.text();
  const requestId = res.headers.get("x-request-id");
  if (res.status !== 200)
    return { status: res.status, code: JSON.parse(text).error.code, requestId };
  if (body.stream && !text.includes("[DONE]"))
    return { status: 599, code: "stream_failed", requestId };
  return { status: 200, requestId };
}

async function counters(keyId: string) {
  const window = budgetWindow("monthly", null, new Date());
  const k = keyCounters(stack.services.redisPrefix, keyId, window.id).budget;
  const redis = createRedis(stack.services.redis, { maxRetriesPerRequest: 2 });
  const [spent, reserved] = await redis
    .hmget(k, "spent", "reserved")
    .finally(() => redis.disconnect());
  return { spent: BigInt(spent ?? "0"), reserved: BigInt(reserved ?? "0") };
}

async function ledgerTotal(keyId: string, expectedRows: number) {
  for (let i = 0; i < 200; i++) {
    const [row] = await stack.services.sql`
      select count(*)::int as n, coalesce(sum(cost), 0)::text as cost from usage_ledger where key_id = ${keyId}`;
    if (row!.n >= expectedRows)
      return { rows: row!.n as number, cost: BigInt(row!.cost as string) };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("ledger did not fill");
}

describe.each([false, true])("200 concurrent requests over two proxies (stream: %s)", (stream) => {
  it("never spends past the limit and calls the provider once per success", async () => {
    const limit = costNanos * 10n + costNanos / 2n;
    const t = await budgetTenant(limit);
    const before = stack.fake.countFor(t.upstreamModel);
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, (_, i) => call(t.secret, i % 2, { max_tokens: 16, stream })),
    );
    const ok = outcomes.filter((o) => o.status === 200).length;
    const refused = outcomes.filter((o) => o.code === "spending_limit_reached").length;
    expect(ok).toBeGreaterThanOrEqual(Number(limit / costNanos));
    expect(ok + refused).toBe(200);
    expect(stack.fake.countFor(t.upstreamModel) - before).toBe(ok);
    const c = await counters(t.key.id);
    expect(c.spent).toBeLessThanOrEqual(limit);
    expect(c.spent).toBe(costNanos * BigInt(ok));
    expect(c.reserved).toBe(0n);
    // Money is conserved: the ledger's costs add up to what the counter settled.
    const ledger = await ledgerTotal(t.key.id, 200);
    expect(ledger.cost).toBe(c.spent);
  });
});

describe("budgets", () => {
  it("sequentially admits exactly floor(limit / cost) requests", async () => {
    const limit = costNanos * 7n + 5_000n;
    const t = await budgetTenant(limit);
    const outcomes: Outcome[] = [];
    for (let i = 0; i < 10; i++) outcomes.push(await call(t.secret, i % 2, { max_tokens: 16 }));
    expect(outcomes.map((o) => o.status)).toEqual([
      200, 200, 200, 200, 200, 200, 200, 403, 403, 403,
    ]);
    expect(outcomes.at(-1)!.code).toBe("spending_limit_reached");
  });

  it("lets exactly one of 1,000 concurrent attempts through on a brand-new key that fits one", async () => {
    const t = await budgetTenant(costNanos + costNanos / 2n);
    const before = stack.fake.countFor(t.upstreamModel);
    const outcomes = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => call(t.secret, i % 2, { max_tokens: 16 })),
    );
    expect(outcomes.filter((o) => o.status === 200)).toHaveLength(1);
    expect(stack.fake.countFor(t.upstreamModel) - before).toBe(1);
  });

  it("clamps the injected output bound near the end of a budget, refuses below the minimum", async () => {
    // 300 output tokens affordable: the bound injected upstream is 300, not the model's 4096.
    const t = await budgetTenant(300_000n);
    expect((await call(t.secret, 0, {})).status).toBe(200);
    const sent = stack.fake.requests.filter((r) => r.model === t.upstreamModel).at(-1)!;
    expect((sent.body as { max_tokens?: number }).max_tokens).toBe(300);
    // Each answer costs 16 tokens: 284 then 268 tokens still fit; 252 (< 256) is refused.
    for (const bound of [284, 268]) {
      expect((await call(t.secret, 0, {})).status).toBe(200);
      const next = stack.fake.requests.filter((r) => r.model === t.upstreamModel).at(-1)!;
      expect((next.body as { max_tokens?: number }).max_tokens).toBe(bound);
    }
    const refused = await call(t.secret, 0, {});
    expect([refused.status, refused.code]).toEqual([403, "spending_limit_reached"]);
  });

  it("refuses an explicit max_tokens that does not fit, naming the affordable maximum", async () => {
    const t = await budgetTenant(300_000n);
    const res = await fetch(`${stack.proxies[0]!.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.secret}`, "content-type": "application/json" },
      body: JSON.stringify({
        model,
        messages: [{ role: "user", content: "hi" }],
        max_tokens: 1000,
      }),
    });
    const body = (await res.json()) as ErrorBody;
    expect([res.status, body.error.code]).toEqual([403, "spending_limit_reached"]);
    expect(body.error.message).toContain("at most 300 tokens");
  });

  it("refuses every model once the limit is reached, $0 models included", async () => {
    const t = await budgetTenant(costNanos);
    expect((await call(t.secret, 0, { max_tokens: 16 })).status).toBe(200);
    await stack.master.models.create.mutate({
      projectId: t.projectId,
      id: "free-model",
      providerId: "fake-openai",
      upstreamModel: "free-model",
      inputUsdPer1M: "0",
      outputUsdPer1M: "0",
      tier: "free",
    });
    const free = await call(t.secret, 1, { model: "free-model", max_tokens: 16 });
    expect([free.status, free.code]).toEqual([403, "spending_limit_reached"]);
  });

  it("shows live spend through the API within a second of the request", async () => {
    const t = await budgetTenant(costNanos * 5n);
    expect((await call(t.secret, 0, { max_tokens: 16 })).status).toBe(200);
    const key = await stack.master.keys.get.query({ id: t.key.id });
    expect(key.spendUsd).toBe("0.000016");
    expect(key.reservedUsd).toBe("0");
  });
});

it("charges a provider's usage above the reservation in full and counts it", async () => {
  const t = await budgetTenant(costNanos * 100n);
  const metric = async () => {
    const text = await (await fetch(`${stack.proxies[0]!.metricsUrl}/metrics`)).text();
    return Number(/^osm_proxy_usage_over_reservation_total (\d+)/m.exec(text)?.[1] ?? 0);
  };
  const before = await metric();
  stack.fake.script(t.upstreamModel, { usageOverride: { completion_tokens: 50 } });
  expect((await call(t.secret, 0, { max_tokens: 16 })).status).toBe(200);
  expect(await metric()).toBe(before + 1);
  const key = await stack.master.keys.get.query({ id: t.key.id });
  // 50 tokens at $1 per 1M, not the 16 reserved.
  expect(key.spendUsd).toBe("0.00005");
});

it("conserves money: every window's ledger costs equal what its counter settled", async () => {
  const { compared, mismatches } = await moneyConservation(stack.services);
  expect(mismatches).toEqual([]);
  expect(compared).toBeGreaterThan(0);
});

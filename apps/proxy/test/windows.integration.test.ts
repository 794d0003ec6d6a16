import { BudgetCounters } from "@osm/budget/counters";
import { budgetWindow } from "@osm/budget/redis-key-names";
import type { BudgetPeriod } from "@osm/policy/windows";
import { type RunningProxy, startProxy } from "@osm/proxy/server";
import { createRedis, type RedisClient } from "@osm/redis/connect";
import { type GatewayStack, startGatewayStack, testProxyConfig } from "@osm/testing/gateway";
import { moneyConservation } from "@osm/testing/money";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Budget windows at their edges, with no sleeping: a proxy whose clock the test sets. Windows
// are calendar-aligned in UTC (day 00:00, ISO week Monday 00:00, month 1st 00:00) and a request
// settles into the window in which it was admitted (RequestRecord.admittedAt = the proxy's now).

// Input free, $1 per 1M output tokens, and the fake answers exactly max_tokens (16) tokens: a
// request's worst case equals its actual cost, 16,000 nanos. Every key here affords exactly one.
const model = "budget-model";
const costNanos = 16_000n;
const usd = (nanos: bigint) => (Number(nanos) / 1e9).toFixed(9);

let stack: GatewayStack;
let proxy: RunningProxy;
let clock = new Date();
let redis: RedisClient;
let counters: BudgetCounters;

beforeAll(async () => {
  stack = await startGatewayStack();
  proxy = await startProxy(testProxyConfig(stack.services), { now: () => clock });
  redis = createRedis(stack.services.redis, { maxRetriesPerRequest: 2 });
  counters = new BudgetCounters(redis, stack.services.redisPrefix);
});
afterAll(async () => {
  redis.disconnect();
  await proxy.close();
  await stack.close();
});

async function budgetTenant(period: BudgetPeriod, limitNanos = costNanos) {
  const t = await stack.tenant({ spendLimitUsd: usd(limitNanos), budgetPeriod: period });
  const upstreamModel = `${model}-${t.key.id}`;
  await stack.master.models.create.mutate({
    projectId: t.projectId,
    id: model,
    providerId: "fake-openai",
    upstreamModel,
    inputUsdPer1M: "0",
    outputUsdPer1M: "1",
    tier: "paid",
  });
  return { ...t, period, upstreamModel };
}

type Outcome = { status: number; code: string | null; requestId: string | null };

async function call(secret: string, url = proxy.url): Promise<Outcome> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], max_tokens: 16 }),
  });
  const body = (await res.json()) as { error?: { code?: string } };
  return {
    status: res.status,
    code: body.error?.code ?? null,
    requestId: res.headers.get("x-request-id"),
  };
}

/** One request at `at` on the injected clock. */
function callAt(at: string, secret: string) {
  clock = new Date(at);
  return call(secret);
}

async function spentIn(keyId: string, period: BudgetPeriod, at: string) {
  return (await counters.read(keyId, budgetWindow(period, null, new Date(at)).id))?.spent ?? null;
}

const ok = { status: 200, code: null };
const refused = { status: 403, code: "spending_limit_reached" };

type Edge = {
  name: string;
  period: BudgetPeriod;
  /** The one request the budget affords. */
  spendAt: string;
  /** Later instants still inside the same window: refused. */
  refusedAt: string[];
  /** The first instant of the next window: a fresh budget. */
  nextWindow: string;
};

const edges: Edge[] = [
  {
    name: "daily: spent at 23:59:59.999, fresh at 00:00:00.000 (and across New Year)",
    period: "daily",
    spendAt: "2026-12-31T23:59:59.999Z",
    refusedAt: ["2026-12-31T23:59:59.999Z"],
    nextWindow: "2027-01-01T00:00:00.000Z",
  },
  {
    name: "daily: spent at 00:00:00.000, refused all day until the next midnight",
    period: "daily",
    spendAt: "2027-03-14T00:00:00.000Z",
    refusedAt: ["2027-03-14T12:00:00.000Z", "2027-03-14T23:59:59.999Z"],
    nextWindow: "2027-03-15T00:00:00.000Z",
  },
  {
    name: "weekly: the ISO week of Mon 2026-12-28 runs across the year boundary to Sun 2027-01-03",
    period: "weekly",
    spendAt: "2026-12-28T00:00:00.000Z",
    refusedAt: ["2026-12-31T23:59:59.999Z", "2027-01-01T00:00:00.000Z", "2027-01-03T23:59:59.999Z"],
    nextWindow: "2027-01-04T00:00:00.000Z",
  },
  {
    name: "weekly: spent on Thursday 2026-12-31, fresh on Monday 2027-01-04",
    period: "weekly",
    spendAt: "2026-12-31T23:59:59.999Z",
    refusedAt: ["2027-01-03T23:59:59.999Z"],
    nextWindow: "2027-01-04T00:00:00.000Z",
  },
  {
    name: "monthly: Jan 31 23:59:59.999 → Feb 1",
    period: "monthly",
    spendAt: "2027-01-31T23:59:59.999Z",
    refusedAt: ["2027-01-31T23:59:59.999Z"],
    nextWindow: "2027-02-01T00:00:00.000Z",
  },
  {
    name: "monthly: leap year 2028, Feb 28 → Feb 29 is the same window, Mar 1 the next",
    period: "monthly",
    spendAt: "2028-02-28T23:59:59.999Z",
    refusedAt: ["2028-02-29T00:00:00.000Z", "2028-02-29T23:59:59.999Z"],
    nextWindow: "2028-03-01T00:00:00.000Z",
  },
  {
    name: "monthly: non-leap 2027, Feb 28 23:59:59.999 → Mar 1",
    period: "monthly",
    spendAt: "2027-02-28T23:59:59.999Z",
    refusedAt: ["2027-02-28T23:59:59.999Z"],
    nextWindow: "2027-03-01T00:00:00.000Z",
  },
];

describe("budget windows at their boundaries (injected clock)", () => {
  it.each(edges)("$name", async (edge) => {
    const t = await budgetTenant(edge.period);
    expect(await callAt(edge.spendAt, t.secret)).toMatchObject(ok);
    for (const at of edge.refusedAt) expect(await callAt(at, t.secret)).toMatchObject(refused);
    expect(await spentIn(t.key.id, edge.period, edge.spendAt)).toBe(costNanos);

    // The next window starts at zero: exactly one request's worth again, then refused.
    expect(await spentIn(t.key.id, edge.period, edge.nextWindow)).toBeNull();
    expect(await callAt(edge.nextWindow, t.secret)).toMatchObject(ok);
    expect(await callAt(edge.nextWindow, t.secret)).toMatchObject(refused);
    expect(await spentIn(t.key.id, edge.period, edge.nextWindow)).toBe(costNanos);
    // The old window kept what it settled.
    expect(await spentIn(t.key.id, edge.period, edge.spendAt)).toBe(costNanos);
  });

  it("a budget without a period never resets", async () => {
    const t = await budgetTenant("none");
    expect(await callAt("2026-12-31T23:59:59.999Z", t.secret)).toMatchObject(ok);
    for (const at of [
      "2027-01-01T00:00:00.000Z",
      "2027-02-01T00:00:00.000Z",
      "2030-01-01T00:00:00Z",
    ])
      expect(await callAt(at, t.secret)).toMatchObject(refused);
  });

  it("settles a request admitted at 23:59:59.999 into that day, even if it ends the next day", async () => {
    const t = await budgetTenant("daily");
    stack.fake.script(t.upstreamModel, { latencyMs: 400 });
    const before = stack.fake.countFor(t.upstreamModel);
    clock = new Date("2026-12-31T23:59:59.999Z");
    const pending = call(t.secret);
    // Admitted once the provider has it; midnight passes while it runs.
    for (let i = 0; i < 200 && stack.fake.countFor(t.upstreamModel) === before; i++)
      await new Promise((r) => setTimeout(r, 5));
    expect(stack.fake.countFor(t.upstreamModel)).toBe(before + 1);
    clock = new Date("2027-01-01T00:00:00.000Z");
    const first = await pending;
    expect(first).toMatchObject(ok);

    expect(await spentIn(t.key.id, "daily", "2026-12-31T12:00:00Z")).toBe(costNanos);
    expect(await spentIn(t.key.id, "daily", "2027-01-01T12:00:00Z")).toBeNull();
    stack.fake.script(t.upstreamModel, {});
    expect(await call(t.secret)).toMatchObject(ok);
    expect(await spentIn(t.key.id, "daily", "2027-01-01T12:00:00Z")).toBe(costNanos);

    // The ledger agrees: admitted (and counted) on Dec 31.
    let rows: { admitted: string; day: string | null }[] = [];
    for (let i = 0; i < 200 && rows.length === 0; i++) {
      rows = await stack.services.sql<{ admitted: string; day: string | null }[]>`
        select to_char(l.admitted_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as admitted,
          d.day::text as day
        from usage_ledger l
        left join key_spend_daily d on d.key_id = l.key_id and d.day = (l.admitted_at at time zone 'UTC')::date
        where l.request_id = ${first.requestId}`;
      if (rows.length === 0) await new Promise((r) => setTimeout(r, 25));
    }
    expect(rows).toHaveLength(1);
    expect(rows[0]!.admitted).toBe("2026-12-31T23:59:59.999Z");
    expect(rows[0]!.day).toBe("2026-12-31");
  });
});

async function seenVersion(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^osm_proxy_seen_version (\d+)/m.exec(text)?.[1] ?? 0);
}

describe("keys.resetSpend", () => {
  it("lets an exhausted key spend again at once, with a fresh budget", async () => {
    // keys.resetSpend stamps the API's real time, so this uses the stack's real-clock proxy.
    const live = stack.proxies[0]!;
    const t = await budgetTenant("monthly");
    expect(await call(t.secret, live.url)).toMatchObject(ok);
    expect(await call(t.secret, live.url)).toMatchObject(refused);

    await stack.master.keys.resetSpend.mutate({ id: t.key.id });
    const [row] = await stack.services.sql<{ version: number }[]>`
      select version::int as version from api_keys where id = ${t.key.id}`;
    const started = performance.now();
    while ((await seenVersion(live.metricsUrl)) < row!.version) {
      if (performance.now() - started > 5_000) throw new Error("reset did not propagate");
      await new Promise((r) => setTimeout(r, 5));
    }

    expect(await call(t.secret, live.url)).toMatchObject(ok);
    expect(await call(t.secret, live.url)).toMatchObject(refused);
    const key = await stack.master.keys.get.query({ id: t.key.id });
    expect(key.spendUsd).toBe("0.000016");
  });
});

it("conserves money: every window's ledger costs equal what its counter settled", async () => {
  const { compared, mismatches } = await moneyConservation(stack.services);
  expect(mismatches).toEqual([]);
  expect(compared).toBeGreaterThan(0);
});

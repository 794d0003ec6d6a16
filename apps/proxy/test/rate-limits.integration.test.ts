import { promptTokenBound } from "@osm/policy/pricing";
import type { KeyPolicy } from "@osm/policy/schemas";
import { type RunningProxy, startProxy } from "@osm/proxy/server";
import { type GatewayStack, startGatewayStack, testProxyConfig } from "@osm/testing/gateway";
import { moneyConservation } from "@osm/testing/money";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Per-key rate limits live in Redis, so they hold across every proxy process; they are checked
// before the budget (contract order: … → rate limits → budget).

// Input free, $1 per 1M output tokens; the fake answers exactly max_tokens tokens.
const model = "rated-model";

let stack: GatewayStack;
/** A proxy on a clock the test sets, for sliding the minute without waiting for it. */
let clocked: RunningProxy;
let clock = new Date("2027-06-15T12:00:00.000Z");

beforeAll(async () => {
  stack = await startGatewayStack();
  await stack.addProxy();
  clocked = await startProxy(testProxyConfig(stack.services), { now: () => clock });
});
afterAll(async () => {
  await clocked.close();
  await stack.close();
});

async function ratedTenant(rateLimit: KeyPolicy["rateLimit"], spendLimitUsd?: string) {
  const t = await stack.tenant({
    policy: { rateLimit },
    ...(spendLimitUsd ? { spendLimitUsd, budgetPeriod: "monthly" as const } : {}),
  });
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
  return { ...t, upstreamModel };
}

type Outcome = { status: number; code: string | null; retryAfter: string | null };

const body = (maxTokens: number) => ({
  model,
  messages: [{ role: "user", content: "hi" }],
  max_tokens: maxTokens,
});

async function call(secret: string, url: string, maxTokens = 16): Promise<Outcome> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
    body: JSON.stringify(body(maxTokens)),
  });
  const json = (await res.json()) as { error?: { code?: string } };
  return {
    status: res.status,
    code: json.error?.code ?? null,
    retryAfter: res.headers.get("retry-after"),
  };
}

const ok = { status: 200, code: null };
const limited = { status: 429, code: "rate_limit_exceeded" };

describe("requestsPerMinute", () => {
  it("admits exactly 20 of 40 concurrent requests spread over two proxies", async () => {
    const t = await ratedTenant({ requestsPerMinute: 20 });
    const before = stack.fake.countFor(t.upstreamModel);
    const outcomes = await Promise.all(
      Array.from({ length: 40 }, (_, i) => call(t.secret, stack.proxies[i % 2]!.url)),
    );
    const admitted = outcomes.filter((o) => o.status === 200);
    const refused = outcomes.filter((o) => o.status !== 200);
    expect(admitted).toHaveLength(20);
    expect(stack.fake.countFor(t.upstreamModel) - before).toBe(20);
    for (const o of refused) {
      expect(o).toMatchObject(limited);
      const seconds = Number(o.retryAfter);
      expect(Number.isInteger(seconds)).toBe(true);
      expect(seconds).toBeGreaterThanOrEqual(1);
      expect(seconds).toBeLessThanOrEqual(60);
    }
    // One count for the key, not one per process: after one request on each proxy, a key
    // allowing 2 per minute is refused on both.
    const two = await ratedTenant({ requestsPerMinute: 2 });
    expect(await call(two.secret, stack.proxies[0]!.url)).toMatchObject(ok);
    expect(await call(two.secret, stack.proxies[1]!.url)).toMatchObject(ok);
    expect(await call(two.secret, stack.proxies[0]!.url)).toMatchObject(limited);
    expect(await call(two.secret, stack.proxies[1]!.url)).toMatchObject(limited);
  });

  it("admits again once the sliding minute has passed (injected clock)", async () => {
    const t = await ratedTenant({ requestsPerMinute: 3 });
    const start = new Date("2027-06-15T12:00:00.000Z").getTime();
    for (let i = 0; i < 3; i++) {
      clock = new Date(start + i * 1_000);
      expect(await call(t.secret, clocked.url)).toMatchObject(ok);
    }
    clock = new Date(start + 30_000);
    const refused = await call(t.secret, clocked.url);
    expect(refused).toMatchObject(limited);
    expect(refused.retryAfter).toBe("30");
    clock = new Date(start + 60_000);
    expect(await call(t.secret, clocked.url)).toMatchObject(ok);
    expect(await call(t.secret, clocked.url)).toMatchObject(limited);
    clock = new Date(start + 61_000);
    expect(await call(t.secret, clocked.url)).toMatchObject(ok);
  });
});

describe("tokensPerMinute", () => {
  const maxTokens = 100;
  const estimate = promptTokenBound(body(maxTokens) as never) + maxTokens;

  it("refuses once the estimates of ~3 requests fill the minute", async () => {
    const t = await ratedTenant({ tokensPerMinute: Math.floor(estimate * 3.5) });
    // The provider reports exactly the estimate, so settlement changes nothing.
    stack.fake.script(t.upstreamModel, {
      usageOverride: { prompt_tokens: estimate - maxTokens, completion_tokens: maxTokens },
    });
    const outcomes: Outcome[] = [];
    for (let i = 0; i < 5; i++)
      outcomes.push(await call(t.secret, stack.proxies[i % 2]!.url, maxTokens));
    expect(outcomes.map((o) => o.status)).toEqual([200, 200, 200, 429, 429]);
    expect(outcomes[3]).toMatchObject(limited);
    expect(Number(outcomes[3]!.retryAfter)).toBeGreaterThanOrEqual(1);
  });

  it("counts the tokens actually used once a request settles", async () => {
    // Room for one estimate and a half; each request really uses 2 tokens.
    const t = await ratedTenant({ tokensPerMinute: Math.floor(estimate * 1.5) });
    stack.fake.script(t.upstreamModel, {
      usageOverride: { prompt_tokens: 1, completion_tokens: 1 },
    });
    const outcomes: Outcome[] = [];
    for (let i = 0; i < 8; i++)
      outcomes.push(await call(t.secret, stack.proxies[i % 2]!.url, maxTokens));
    expect(outcomes.map((o) => o.status)).toEqual(Array(8).fill(200));
    // An estimate larger than what is left is still refused up front.
    const tooBig = await call(t.secret, stack.proxies[0]!.url, estimate * 2);
    expect(tooBig).toMatchObject(limited);
  });
});

describe("rate limits before the budget", () => {
  // On the injected clock (a month of its own), the worker's limitReached flag never applies:
  // what is tested is the order of the two checks in one admission.
  it("answers 429 when both the rate limit and the budget would refuse", async () => {
    clock = new Date("2027-06-20T08:00:00.000Z");
    // $0.000016: exactly one 16-token answer; and one request per minute.
    const t = await ratedTenant({ requestsPerMinute: 1 }, "0.000016");
    expect(await call(t.secret, clocked.url)).toMatchObject(ok);
    const both = await call(t.secret, clocked.url);
    expect(both).toMatchObject(limited);
    expect(Number(both.retryAfter)).toBeGreaterThanOrEqual(1);
    // Once the minute has passed only the budget refuses.
    clock = new Date(clock.getTime() + 60_000);
    expect(await call(t.secret, clocked.url)).toMatchObject({
      status: 403,
      code: "spending_limit_reached",
    });
  });

  it("a rate-limit refusal spends nothing and reaches no provider", async () => {
    clock = new Date("2027-06-21T08:00:00.000Z");
    const t = await ratedTenant({ requestsPerMinute: 2 }, "0.000032");
    const before = stack.fake.countFor(t.upstreamModel);
    const first = await Promise.all(Array.from({ length: 6 }, () => call(t.secret, clocked.url)));
    expect(first.filter((o) => o.status === 200)).toHaveLength(2);
    expect(first.filter((o) => o.status === 429)).toHaveLength(4);
    expect(stack.fake.countFor(t.upstreamModel) - before).toBe(2);
    clock = new Date(clock.getTime() + 60_000);
    expect(await call(t.secret, clocked.url)).toMatchObject({
      status: 403,
      code: "spending_limit_reached",
    });
  });
});

it("conserves money: every window's ledger costs equal what its counter settled", async () => {
  const { compared, mismatches } = await moneyConservation(stack.services);
  expect(mismatches).toEqual([]);
  expect(compared).toBeGreaterThan(0);
});

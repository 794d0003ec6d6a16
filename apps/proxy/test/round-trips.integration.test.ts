import { inboxKeys } from "@osm/jobs/usage-inbox";
import { createRedis } from "@osm/redis/connect";
import { chatRequestId, type GatewayStack, startGatewayStack } from "@osm/testing/gateway";
import { afterAll, beforeAll, expect, it } from "vitest";

// Design under test: a request makes at most one Redis round trip before the upstream (the
// admission script, and none for a key without limits) and one after it (the settlement, which
// carries the usage event into the proxy's inbox; a key without limits only appends the event),
// and its usage still lands in the ledger once, moved from the inbox to the queue in batches.

let stack: GatewayStack;

beforeAll(async () => {
  stack = await startGatewayStack();
});
afterAll(() => stack.close());

async function roundTrips(): Promise<Record<string, number>> {
  const text = await (await fetch(`${stack.proxies[0]!.metricsUrl}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^osm_proxy_redis_round_trips_total\{phase="([^"]+)"\} (\S+)$/gm))
    out[m[1]!] = Number(m[2]);
  return out;
}

const delta = (before: Record<string, number>, after: Record<string, number>) =>
  Object.fromEntries(
    Object.entries(after)
      .map(([phase, n]) => [phase, n - (before[phase] ?? 0)] as const)
      .filter(([, n]) => n !== 0),
  );

async function ledgerRows(requestIds: string[]) {
  const rows = await stack.services.sql`
    select request_id, cost from usage_ledger where request_id in ${stack.services.sql(requestIds)}`;
  return rows.length;
}

async function sequential(secret: string, n: number, stream: boolean) {
  const client = stack.openai(secret);
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(await chatRequestId(client, stream));
  return ids;
}

async function landed(ids: string[]) {
  for (let i = 0; i < 200; i++) {
    if ((await ledgerRows(ids)) === ids.length) return ids.length;
    await new Promise((r) => setTimeout(r, 50));
  }
  return ledgerRows(ids);
}

it("takes one round trip before and one after for a key with a budget and rate limits", async () => {
  const t = await stack.tenant({
    spendLimitUsd: "100",
    budgetPeriod: "monthly",
    policy: { rateLimit: { requestsPerMinute: 10_000, tokensPerMinute: 10_000_000 } },
  });
  // The first request may rebuild the brand-new counter from PostgreSQL: not counted.
  await sequential(t.secret, 1, false);
  const before = await roundTrips();
  const ids = [
    ...(await sequential(t.secret, 10, false)),
    ...(await sequential(t.secret, 10, true)),
  ];
  expect(delta(before, await roundTrips())).toEqual({ admit: 20, settle: 20 });
  expect(await landed(ids)).toBe(ids.length);
});

it("takes no round trip before the upstream for a key without limits, one append after", async () => {
  const t = await stack.tenant();
  const before = await roundTrips();
  const ids = [
    ...(await sequential(t.secret, 10, false)),
    ...(await sequential(t.secret, 10, true)),
  ];
  expect(delta(before, await roundTrips())).toEqual({ usage: 20 });
  expect(await landed(ids)).toBe(ids.length);
});

it("moves a malformed inbox entry out of the way, landing the valid ones beside it", async () => {
  const t = await stack.tenant();
  const proxy = stack.proxies[0]!;
  const { inbox } = inboxKeys(stack.services.redisPrefix, proxy.deps.usage.id);
  const redis = createRedis(stack.services.redis, { maxRetriesPerRequest: 2 });
  const requestId = `req_inbox_${t.key.id}`;
  const valid = {
    requestId,
    projectId: t.projectId,
    keyId: t.key.id,
    model: "gpt-4o-mini",
    provider: "fake-openai",
    outcome: "allowed",
    code: null,
    status: 200,
    stream: false,
    inputTokens: 1,
    outputTokens: 2,
    costNanos: "3",
    reservedNanos: "0",
    latencyMs: 1,
    admittedAt: new Date().toISOString(),
  };
  try {
    await redis.rpush(inbox, '{"requestId": 42}', "not json", JSON.stringify(valid));
    proxy.deps.usage.recorded();
    expect(await landed([requestId])).toBe(1);
    for (let i = 0; i < 100 && (await redis.llen(inbox)) > 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(await redis.llen(inbox)).toBe(0);
  } finally {
    await redis.quit();
  }
});

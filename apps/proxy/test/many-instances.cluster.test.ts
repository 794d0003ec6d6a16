import { budgetCounters, chatOutcome, ledgerTotal } from "@osm/testing/budget-probes";
import { type GatewayStack, startGatewayStack } from "@osm/testing/gateway";
import { propagated } from "@osm/testing/propagation";
import { startWorker } from "@osm/testing/services";
import { testWorkerConfig } from "@osm/testing/worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Scale-out on a Redis Cluster: three proxies and two workers share one PostgreSQL and one
// cluster, as a deployment behind a load balancer does. The fake answers max_tokens (16) output
// tokens at $1 per 1M on the budget model: 16,000 nano-USD per request, worst case = actual.
const model = "budget-model";
const costNanos = 16_000n;
const usd = (nanos: bigint) => (Number(nanos) / 1e9).toFixed(9);

let stack: GatewayStack;
let secondWorker: Awaited<ReturnType<typeof startWorker>>;

beforeAll(async () => {
  stack = await startGatewayStack();
  await stack.addProxy();
  await stack.addProxy();
  secondWorker = await startWorker(
    testWorkerConfig(stack.services, { stalledIntervalMs: 1_000, lockDurationMs: 2_000 }),
  );
});
afterAll(async () => {
  await secondWorker.close();
  await stack.close();
});

const call = (secret: string, proxyIndex: number, body: Record<string, unknown> = {}) =>
  chatOutcome(stack.proxies[proxyIndex]!.url, secret, { model, max_tokens: 16, ...body });

async function keyVersion(keyId: string): Promise<number> {
  const [row] = await stack.services.sql`select version from api_keys where id = ${keyId}`;
  return Number(row!.version);
}

/** Hits and misses of a proxy's in-memory key cache, from its metrics port. */
async function keyCacheLookups(metricsUrl: string) {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  const read = (result: string) =>
    Number(
      new RegExp(
        `^osm_proxy_cache_lookups_total\\{cache="key",result="${result}"\\} (\\d+)`,
        "m",
      ).exec(text)?.[1] ?? Number.NaN,
    );
  return { hit: read("hit"), miss: read("miss") };
}

describe("three proxies and two workers on one Redis Cluster", () => {
  it("hold a budget under 300 concurrent requests spread over the proxies", async () => {
    const limit = costNanos * 25n + costNanos / 2n;
    const t = await stack.budgetTenant(usd(limit));
    const before = stack.fake.countFor(t.upstreamModel);
    const outcomes = await Promise.all(
      Array.from({ length: 300 }, (_, i) => call(t.secret, i % 3, { stream: i % 2 === 0 })),
    );
    const ok = outcomes.filter((o) => o.status === 200).length;
    const refused = outcomes.filter((o) => o.code === "spending_limit_reached").length;
    expect(ok + refused).toBe(300);
    expect(ok).toBe(Number(limit / costNanos));
    expect(stack.fake.countFor(t.upstreamModel) - before).toBe(ok);
    const counters = await budgetCounters(stack.services, t.key.id);
    expect(counters.spent).toBeLessThanOrEqual(limit);
    expect(counters.spent).toBe(costNanos * BigInt(ok));
    expect(counters.reserved).toBe(0n);
    // Both workers ingest from the one queue: every request lands exactly once.
    const ledger = await ledgerTotal(stack.services, t.key.id, 300);
    expect(ledger.rows).toBe(300);
    expect(ledger.cost).toBe(counters.spent);
    console.info(
      `cluster budget: ${ok} of 300 admitted over 3 proxies, spent ${counters.spent} of ${limit} nano-USD, reserved ${counters.reserved}, provider calls ${ok}`,
    );
  });

  it("revoke a key on all three within a second", async () => {
    const figures: number[] = [];
    for (let round = 0; round < 5; round++) {
      const t = await stack.tenant();
      for (const i of [0, 1, 2])
        expect((await call(t.secret, i, { model: "gpt-4o-mini" })).status).toBe(200);
      await stack.master.keys.revoke.mutate({ id: t.key.id });
      figures.push(await propagated(stack.proxies, await keyVersion(t.key.id)));
      for (const i of [0, 1, 2])
        expect((await call(t.secret, i, { model: "gpt-4o-mini" })).code).toBe("invalid_api_key");
    }
    console.info(
      `revocation reached 3 proxies in ms: ${figures.map((ms) => ms.toFixed(1)).join(", ")} (max ${Math.max(...figures).toFixed(1)})`,
    );
  });

  it("a restarted proxy rejoins: the shared spend holds, its caches are warm after one request, changes reach it", async () => {
    const t = await stack.budgetTenant(usd(costNanos * 3n));
    expect((await call(t.secret, 0)).status).toBe(200);
    expect((await call(t.secret, 1)).status).toBe(200);

    await stack.proxies[2]!.close();
    stack.proxies.splice(2, 1);
    const restarted = await stack.addProxy();
    const index = stack.proxies.indexOf(restarted);

    expect((await call(t.secret, index)).status).toBe(200);
    const warm = await keyCacheLookups(restarted.metricsUrl);
    // The counters live in the cluster, not the process: the fourth request overspends nothing.
    expect((await call(t.secret, index)).code).toBe("spending_limit_reached");
    const after = await keyCacheLookups(restarted.metricsUrl);
    expect(after.miss).toBe(warm.miss);
    expect(after.hit).toBe(warm.hit + 1);

    await stack.master.keys.revoke.mutate({ id: t.key.id });
    await propagated(stack.proxies, await keyVersion(t.key.id));
    expect((await call(t.secret, index)).code).toBe("invalid_api_key");
  });
});

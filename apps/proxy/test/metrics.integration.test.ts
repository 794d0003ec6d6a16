import { startProxy } from "@osm/proxy/server";
import { type GatewayStack, startGatewayStack, testProxyConfig } from "@osm/testing/gateway";
import { freePort, startRedis } from "@osm/testing/services";
import { waitFor } from "@osm/testing/wait";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Metrics and probes live on PROXY_METRICS_PORT; the public port answers neither /metrics
// (404) nor leaks it. Series are scraped over HTTP after real traffic through the SDK.

let stack: GatewayStack;
beforeAll(async () => {
  stack = await startGatewayStack();
});
afterAll(async () => {
  await stack.close();
});

async function scrape(url = stack.proxies[0]!.metricsUrl): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
  return res.text();
}

/** The value of one series (0 when absent), e.g. `osm_proxy_admissions_total{outcome="reserved"}`. */
function value(text: string, series: string): number {
  for (const line of text.split("\n")) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return 0;
}

const chat = '{route="/v1/chat/completions",';

describe("proxy metrics", () => {
  it("counts requests by route, status and code, latency, upstream latency, admissions and caches", async () => {
    const t = await stack.budgetTenant("1");
    const client = stack.openai(t.secret);
    const before = await scrape();

    for (let i = 0; i < 3; i++) {
      await client.chat.completions.create({
        model: t.model,
        messages: [{ role: "user", content: "hi" }],
        max_tokens: 16,
      });
    }
    const stream = await client.chat.completions.create({
      model: t.model,
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 16,
      stream: true,
    });
    for await (const _ of stream) {
      // read to the end
    }
    // Over the $1 budget at once: refused at admission, before any upstream call.
    await expect(
      client.chat.completions.create({
        model: t.model,
        messages: [{ role: "user", content: "hi" }],
        max_tokens: 2_000_000,
      }),
    ).rejects.toMatchObject({ status: 403 });
    await expect(
      stack.openai("osm_not_a_key").chat.completions.create({
        model: t.model,
        messages: [{ role: "user", content: "hi" }],
      }),
    ).rejects.toMatchObject({ status: 401 });

    const after = await scrape();
    const moved = (series: string) => value(after, series) - value(before, series);
    expect(moved(`osm_proxy_requests_total${chat}status="200",outcome="allowed",code=""}`)).toBe(4);
    expect(
      moved(
        `osm_proxy_requests_total${chat}status="403",outcome="error",code="spending_limit_reached"}`,
      ),
    ).toBe(1);
    expect(
      moved(
        `osm_proxy_requests_total${chat}status="401",outcome="unauthenticated",code="invalid_api_key"}`,
      ),
    ).toBe(1);
    expect(moved(`osm_proxy_request_seconds_count${chat}stream="false"}`)).toBe(4);
    expect(moved(`osm_proxy_request_seconds_count${chat}stream="true"}`)).toBe(1);
    expect(moved(`osm_proxy_upstream_seconds_count${chat}stream="false"}`)).toBe(3);
    expect(moved(`osm_proxy_upstream_seconds_count${chat}stream="true"}`)).toBe(1);
    expect(moved('osm_proxy_admissions_total{outcome="reserved"}')).toBe(4);
    expect(moved('osm_proxy_admissions_total{outcome="budget_refused"}')).toBe(1);
    // One miss for this key's first request, hits for the four after it.
    expect(moved('osm_proxy_cache_lookups_total{cache="key",result="miss"}')).toBeGreaterThan(0);
    expect(moved('osm_proxy_cache_lookups_total{cache="key",result="hit"}')).toBeGreaterThanOrEqual(
      4,
    );
    expect(moved('osm_proxy_cache_lookups_total{cache="catalog",result="hit"}')).toBeGreaterThan(0);
    // Events reach the proxy's inbox with their settlement and move into queue jobs within the
    // group window, which may close after the scrape above.
    await waitFor("the five usage events to be enqueued", async () => {
      const enqueued =
        value(await scrape(), "osm_proxy_usage_enqueued_total") -
        value(before, "osm_proxy_usage_enqueued_total");
      return enqueued >= 5 ? enqueued : undefined;
    });
    expect(after).toMatch(/^osm_proxy_usage_spill_bytes 0$/m);
    expect(after).toMatch(/^osm_proxy_process_resident_memory_bytes \d+/m);
  });

  it("keeps /metrics off the public port and answers /healthz and /readyz on both", async () => {
    const proxy = stack.proxies[0]!;
    const pub = await fetch(`${proxy.url}/metrics`);
    expect(pub.status).toBe(404);
    expect(await pub.json()).toMatchObject({ error: { code: "not_found" } });
    for (const base of [proxy.url, proxy.metricsUrl]) {
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({
        status: "ok",
        postgres: "up",
        redis: "up",
        accepting: "up",
      });
    }
    expect((await fetch(`${proxy.metricsUrl}/v1/models`)).status).toBe(404);
    expect((await fetch(`${proxy.metricsUrl}/metrics`, { method: "POST" })).status).toBe(405);
  });

  it("answers /readyz 503 while Redis is away, and ready again once it is back", async () => {
    const redisPort = await freePort();
    let redis = await startRedis({ port: redisPort });
    const proxy = await startProxy(
      testProxyConfig(stack.services, {
        redis: { mode: "single", url: redis.url },
        redisTimeoutMs: 100,
      }),
    );
    try {
      expect((await fetch(`${proxy.metricsUrl}/readyz`)).status).toBe(200);
      await redis.stop();
      for (const base of [proxy.url, proxy.metricsUrl]) {
        const res = await fetch(`${base}/readyz`);
        expect(res.status).toBe(503);
        expect(await res.json()).toEqual({
          status: "unavailable",
          postgres: "up",
          redis: "down",
          accepting: "up",
        });
      }
      // Liveness is not readiness: the process itself is fine.
      expect((await fetch(`${proxy.metricsUrl}/healthz`)).status).toBe(200);
      redis = await startRedis({ port: redisPort });
      let status = 0;
      for (let i = 0; i < 100 && status !== 200; i++) {
        status = (await fetch(`${proxy.metricsUrl}/readyz`)).status;
        if (status !== 200) await new Promise((r) => setTimeout(r, 50));
      }
      expect(status).toBe(200);
    } finally {
      await proxy.close();
      await redis.stop();
    }
  });
});

import { apiClient, startTestApi, testMasterKey } from "@osm/testing/api";
import { createTestServices, type TestServices } from "@osm/testing/context";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The API's metrics and probes are on API_METRICS_PORT: calls by procedure and tRPC code, and
// their latency, scraped over HTTP after real calls through the tRPC client.

let services: TestServices;
let api: Awaited<ReturnType<typeof startTestApi>>;

beforeAll(async () => {
  services = await createTestServices();
  api = await startTestApi(services);
});
afterAll(async () => {
  await api.close();
  await services.close();
});

const scrape = async () => (await fetch(`${api.metricsUrl}/metrics`)).text();

function value(text: string, series: string): number {
  for (const line of text.split("\n")) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return 0;
}

describe("api metrics", () => {
  it("counts calls by procedure and code, with latency, and folds unknown paths into one series", async () => {
    const master = apiClient(api.url, { bearer: testMasterKey });
    const before = await scrape();
    await master.projects.create.mutate({ name: "one" });
    await master.projects.create.mutate({ name: "two" });
    await expect(master.projects.get.query({ id: "prj_doesnotexist000000" })).rejects.toThrow();
    await expect(
      apiClient(api.url).auth.login.mutate({
        email: "nobody@osm.local",
        password: "wrong-password",
      }),
    ).rejects.toThrow();
    for (const path of ["no.such", "another.made.up.name"]) {
      expect((await fetch(`${api.url}/trpc/${path}`)).status).toBe(404);
    }
    const after = await scrape();
    const moved = (series: string) => value(after, series) - value(before, series);

    expect(moved('osm_api_requests_total{procedure="projects.create",code="OK"}')).toBe(2);
    expect(moved('osm_api_request_seconds_count{procedure="projects.create"}')).toBe(2);
    const getCodes = after
      .split("\n")
      .filter((l) => l.startsWith('osm_api_requests_total{procedure="projects.get"'));
    expect(getCodes).toHaveLength(1);
    expect(getCodes[0]).toMatch(/code="(NOT_FOUND|BAD_REQUEST|FORBIDDEN)"\} 1$/);
    expect(moved('osm_api_requests_total{procedure="auth.login",code="UNAUTHORIZED"}')).toBe(1);
    expect(moved('osm_api_requests_total{procedure="unknown",code="NOT_FOUND"}')).toBe(2);
    expect(after).not.toContain("no.such");
    expect(after).toMatch(/^osm_api_process_resident_memory_bytes \d+/m);
  });

  it("is live and ready on both ports, and /metrics is not served on the public one", async () => {
    for (const base of [api.url, api.metricsUrl]) {
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: "ok", postgres: "up", redis: "up" });
    }
    const pub = await fetch(`${api.url}/metrics`);
    expect(await pub.text()).not.toContain("osm_api_requests_total");
  });

  it("answers /readyz 503 when PostgreSQL does not answer", async () => {
    // Nothing listens on port 1: the pool's connect fails at once.
    const broken = await startTestApi(services, {
      databaseUrl: "postgres://osm@127.0.0.1:1/osm",
    });
    try {
      for (const base of [broken.url, broken.metricsUrl]) {
        const res = await fetch(`${base}/readyz`);
        expect(res.status).toBe(503);
        expect(await res.json()).toEqual({ status: "unavailable", postgres: "down", redis: "up" });
      }
      expect((await fetch(`${broken.url}/healthz`)).status).toBe(200);
    } finally {
      await broken.close();
    }
  });
});

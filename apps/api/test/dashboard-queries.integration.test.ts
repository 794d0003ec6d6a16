import { ingestUsageEvents } from "@osm/db/queries/ingest";
import { type ApiClient, apiClient, startTestApi, testMasterKey } from "@osm/testing/api";
import { createTestServices, type TestServices } from "@osm/testing/context";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callError } from "./helpers.ts";

// The procedures the dashboard needs beyond CRUD: the policy simulator, the shadow report,
// log filters, usage from the rollups and the keys table's sort, filters and sparklines.

let services: TestServices;
let api: Awaited<ReturnType<typeof startTestApi>>;
let master: ApiClient;
let projectId: string;

beforeAll(async () => {
  services = await createTestServices();
  api = await startTestApi(services);
  master = apiClient(api.url, { bearer: testMasterKey });
  projectId = (await master.projects.create.mutate({ name: "Dashboard" })).id;
  await master.providers.create.mutate({
    projectId,
    id: "prov",
    kind: "openai",
    baseUrl: "http://127.0.0.1:9/v1",
    apiKey: "sk-test",
  });
  for (const [id, out] of [
    ["cheap", "1"],
    ["pricey", "50"],
  ] as const) {
    await master.models.create.mutate({
      projectId,
      id,
      providerId: "prov",
      upstreamModel: id,
      inputUsdPer1M: "0",
      outputUsdPer1M: out,
      tier: "paid",
    });
  }
});

afterAll(async () => {
  await api?.close();
  await services?.close();
});

function event(
  keyId: string,
  n: number,
  over: Partial<Parameters<typeof ingestUsageEvents>[1][number]> = {},
) {
  return {
    requestId: `req_${keyId}_${n}`,
    projectId,
    keyId,
    model: "cheap",
    provider: "prov",
    outcome: "allowed" as const,
    code: null,
    status: 200,
    stream: false,
    inputTokens: 10,
    outputTokens: 1000,
    costNanos: "1000000",
    reservedNanos: "0",
    latencyMs: 5,
    admittedAt: new Date(Date.now() - 60_000).toISOString(),
    ...over,
  };
}

describe("policy.simulate", () => {
  it("allows a request with its reservation and cost, and names the rule of a denial", async () => {
    const { key } = await master.keys.create.mutate({
      projectId,
      label: "sim",
      spendLimitUsd: "1",
      budgetPeriod: "monthly",
      policy: { models: { allow: ["chea*"] }, maxTokensPerRequest: 2000 },
    });
    const ok = await master.policy.simulate.query({
      keyId: key.id,
      model: "cheap",
      inputTokens: 100,
      outputTokens: 500,
      maxTokens: 1000,
    });
    expect(ok).toMatchObject({
      allowed: true,
      provider: "prov",
      outputBound: 1000,
      reservationUsd: "0.001",
      estimatedCostUsd: "0.0005",
      remainingUsd: "0.999",
    });
    expect(await master.policy.simulate.query({ keyId: key.id, model: "pricey" })).toEqual({
      allowed: false,
      error: {
        code: "model_not_allowed",
        rule: "models.allow",
        status: 403,
        message:
          "Policy Violation: The requested model (pricey) is not authorized for this API key.",
      },
    });
    expect(
      await master.policy.simulate.query({ keyId: key.id, model: "cheap", maxTokens: 5000 }),
    ).toMatchObject({ allowed: false, error: { code: "max_tokens_exceeded", status: 400 } });
    expect(await master.policy.simulate.query({ keyId: key.id, model: "nope" })).toMatchObject({
      allowed: false,
      error: { code: "model_not_found", status: 404 },
    });
  });

  it("runs the budget arithmetic against what the key has spent", async () => {
    const { key } = await master.keys.create.mutate({
      projectId,
      label: "small budget",
      spendLimitUsd: "0.0015",
      budgetPeriod: "monthly",
    });
    await ingestUsageEvents(services.db, [event(key.id, 1)]);
    // $0.0005 left affords 500 output tokens at $1 per 1M.
    expect(
      await master.policy.simulate.query({ keyId: key.id, model: "cheap", maxTokens: 1000 }),
    ).toMatchObject({
      allowed: false,
      error: {
        code: "spending_limit_reached",
        rule: "spending limit",
        message: expect.stringContaining("at most 500 tokens fit"),
      },
    });
    expect(
      await master.policy.simulate.query({ keyId: key.id, model: "cheap", maxTokens: 400 }),
    ).toMatchObject({ allowed: true, spentUsd: "0.001", reservationUsd: "0.0004" });
  });

  it("reports a shadow policy's would-be denial on an allowed request", async () => {
    const { key } = await master.keys.create.mutate({
      projectId,
      label: "shadow",
      policy: { mode: "shadow", models: { block: ["pricey"] } },
    });
    expect(await master.policy.simulate.query({ keyId: key.id, model: "pricey" })).toMatchObject({
      allowed: true,
      shadowDenial: { code: "model_not_allowed", rule: "models.block", status: 403 },
    });
    const report = await master.policy.shadowReport.query({ keyId: key.id });
    expect(report).toMatchObject({ mode: "shadow" });
  });

  it("refuses an unknown key and bad input", async () => {
    expect(
      (await callError(master.policy.simulate.query({ keyId: "key_nope", model: "cheap" }))).code,
    ).toBe("NOT_FOUND");
    const { key } = await master.keys.create.mutate({ projectId, label: "bad input" });
    const err = await callError(
      master.policy.simulate.query({ keyId: key.id, model: "cheap", inputTokens: -1 }),
    );
    expect(err).toMatchObject({ code: "BAD_REQUEST", fields: [{ path: "inputTokens" }] });
  });
});

describe("logs, usage and the keys table", () => {
  it("filters logs by outcome, code, model and time", async () => {
    const { key } = await master.keys.create.mutate({ projectId, label: "logs" });
    await ingestUsageEvents(services.db, [
      event(key.id, 1),
      event(key.id, 2, {
        outcome: "denied",
        code: "model_not_allowed",
        model: "pricey",
        status: 403,
        costNanos: "0",
      }),
    ]);
    const denied = await master.logs.list.query({ projectId, keyId: key.id, outcome: "denied" });
    expect(denied.items).toMatchObject([
      { code: "model_not_allowed", model: "pricey", keyLabel: "logs" },
    ]);
    const byModel = await master.logs.list.query({ projectId, keyId: key.id, model: "cheap" });
    expect(byModel.items.map((i) => i.outcome)).toEqual(["allowed"]);
    // The dashboard's infinite query sends tRPC's paging direction with the cursor.
    const forward = await master.logs.list.query({
      projectId,
      keyId: key.id,
      outcome: "denied",
      direction: "forward",
    });
    expect(forward.items).toHaveLength(1);
    expect(
      (await callError(master.logs.list.query({ projectId, direction: "sideways" as "forward" })))
        .code,
    ).toBe("BAD_REQUEST");
    const future = await master.logs.list.query({
      projectId,
      keyId: key.id,
      from: new Date(Date.now() + 3600_000),
    });
    expect(future.items).toEqual([]);
    expect(
      (
        await callError(
          master.logs.list.query({ projectId, from: new Date(), to: new Date(Date.now() - 1) }),
        )
      ).code,
    ).toBe("BAD_REQUEST");
  });

  it("stacks usage by key and provider from the rollups", async () => {
    const { key } = await master.keys.create.mutate({ projectId, label: "usage" });
    await ingestUsageEvents(services.db, [event(key.id, 1), event(key.id, 2)]);
    const byKey = await master.usage.timeseries.query({
      projectId,
      bucket: "hour",
      groupBy: "key",
      keyIds: [key.id],
    });
    expect(byKey.points).toMatchObject([{ series: key.id, requests: 2, costUsd: "0.002" }]);
    const byProvider = await master.usage.timeseries.query({
      projectId,
      keyId: key.id,
      bucket: "day",
      groupBy: "provider",
    });
    expect(byProvider.points).toMatchObject([{ series: "prov", outputTokens: 2000 }]);
  });

  it("sorts by spend, filters by limit state, finds by last four, with 24 h sparklines", async () => {
    const p = (await master.projects.create.mutate({ name: "Keys table" })).id;
    const a = await master.keys.create.mutate({
      projectId: p,
      label: "alpha",
      spendLimitUsd: "0.001",
      budgetPeriod: "monthly",
    });
    const b = await master.keys.create.mutate({ projectId: p, label: "beta" });
    const ev = (keyId: string, n: number) => ({ ...event(keyId, n), projectId: p });
    await ingestUsageEvents(services.db, [ev(a.key.id, 1), ev(b.key.id, 1), ev(b.key.id, 2)]);
    const bySpend = await master.keys.list.query({ projectId: p, sort: "spend" });
    expect(bySpend.items.map((k) => k.label)).toEqual(["beta", "alpha"]);
    expect(bySpend.items[0]!.requests24h.reduce((x, y) => x + y, 0)).toBe(2);
    expect(bySpend.items[0]!.requests24h).toHaveLength(24);
    const reached = await master.keys.list.query({ projectId: p, limitState: "reached" });
    expect(reached.items.map((k) => k.label)).toEqual(["alpha"]);
    const none = await master.keys.list.query({ projectId: p, limitState: "none" });
    expect(none.items.map((k) => k.label)).toEqual(["beta"]);
    const lastFour = a.secret.slice(-4);
    const found = await master.keys.list.query({ projectId: p, q: lastFour });
    expect(found.items.map((k) => k.id)).toContain(a.key.id);
    const page = await master.keys.list.query({ projectId: p, sort: "spend", limit: 1 });
    expect(page.nextCursor).toBe("o:1");
    const next = await master.keys.list.query({
      projectId: p,
      sort: "spend",
      limit: 1,
      cursor: "o:1",
    });
    expect(next.items.map((k) => k.label)).toEqual(["alpha"]);
  });
});

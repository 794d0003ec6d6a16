import { ingestUsageEvents } from "@osm/db/queries/ingest";
import { type ApiClient, apiClient, startTestApi, testMasterKey } from "@osm/testing/api";
import { createTestServices, type TestServices } from "@osm/testing/context";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Money crosses the API as decimal strings, is kept as exact integer nano-USD, and comes back
// in canonical form (trailing zeros trimmed), including amounts beyond Number's exact range.

let services: TestServices;
let api: Awaited<ReturnType<typeof startTestApi>>;
let master: ApiClient;
let projectId: string;

beforeAll(async () => {
  services = await createTestServices();
  api = await startTestApi(services);
  master = apiClient(api.url, { bearer: testMasterKey });
  projectId = (await master.projects.create.mutate({ name: "Money" })).id;
  await master.providers.create.mutate({
    projectId,
    id: "prov",
    kind: "openai",
    baseUrl: "http://127.0.0.1:9/v1",
    apiKey: "sk-test",
  });
});

afterAll(async () => {
  await api?.close();
  await services?.close();
});

async function storedLimit(keyId: string): Promise<bigint | null> {
  const [row] = await services.sql<{ spend_limit: bigint | null }[]>`
    select spend_limit from api_keys where id = ${keyId}`;
  return row!.spend_limit;
}

describe("spending limits", () => {
  it.each([
    ["12.50", "12.5", 12_500_000_000n],
    ["0.000000001", "0.000000001", 1n],
    ["1000000", "1000000", 1_000_000_000_000_000n],
    ["1000000.000000000", "1000000", 1_000_000_000_000_000n],
    ["999999.999999999", "999999.999999999", 999_999_999_999_999n],
    ["0.1", "0.1", 100_000_000n],
    ["3.000000010", "3.00000001", 3_000_000_010n],
    ["42", "42", 42_000_000_000n],
  ])("%s is stored as exact nanos and read back as %s", async (input, output, nanos) => {
    const { key } = await master.keys.create.mutate({
      projectId,
      label: `limit ${input}`,
      spendLimitUsd: input,
      budgetPeriod: "daily",
    });
    expect(key.spendLimitUsd).toBe(output);
    expect(await storedLimit(key.id)).toBe(nanos);
    expect((await master.keys.get.query({ id: key.id })).spendLimitUsd).toBe(output);
    const listed = await master.keys.list.query({ projectId, q: key.id });
    expect(listed.items.map((k) => k.spendLimitUsd)).toEqual([output]);

    // And through keys.update, onto another key.
    const other = await master.keys.create.mutate({ projectId, label: `update ${input}` });
    const updated = await master.keys.update.mutate({ id: other.key.id, spendLimitUsd: input });
    expect(updated.spendLimitUsd).toBe(output);
    expect(await storedLimit(other.key.id)).toBe(nanos);
  });

  it("removing the limit with null reads back as null", async () => {
    const { key } = await master.keys.create.mutate({ projectId, label: "x", spendLimitUsd: "5" });
    const updated = await master.keys.update.mutate({ id: key.id, spendLimitUsd: null });
    expect(updated.spendLimitUsd).toBeNull();
    expect(await storedLimit(key.id)).toBeNull();
  });
});

describe("model prices", () => {
  it.each([
    ["0.15", "0.15", 150_000_000n],
    ["10000", "10000", 10_000_000_000_000n],
    ["0", "0", 0n],
    ["0.000000001", "0.000000001", 1n],
    ["2.50", "2.5", 2_500_000_000n],
    ["9999.999999999", "9999.999999999", 9_999_999_999_999n],
  ])("%s per 1M tokens round-trips as %s", async (input, output, nanos) => {
    const id = `m-${input.replace(/\./g, "_")}`;
    const created = await master.models.create.mutate({
      projectId,
      id,
      providerId: "prov",
      upstreamModel: "gpt-4o-mini",
      inputUsdPer1M: input,
      outputUsdPer1M: input,
      tier: "paid",
    });
    expect(created).toMatchObject({ inputUsdPer1M: output, outputUsdPer1M: output });
    const listed = (await master.models.list.query({ projectId, limit: 100 })).items.find(
      (m) => m.id === id,
    );
    expect(listed).toMatchObject({ inputUsdPer1M: output, outputUsdPer1M: output });
    const [row] = await services.sql<{ input: bigint; output: bigint }[]>`
      select input_per1_m as input, output_per1_m as output
      from models where project_id = ${projectId} and slug = ${id}`;
    expect(row).toEqual({ input: nanos, output: nanos });

    const updated = await master.models.update.mutate({
      projectId,
      id,
      inputUsdPer1M: "1.10",
      outputUsdPer1M: input,
    });
    expect(updated).toMatchObject({ inputUsdPer1M: "1.1", outputUsdPer1M: output });
  });

  it("a cached-input price is optional, round-trips, clears with null and is refused when malformed", async () => {
    const plain = await master.models.create.mutate({
      projectId,
      id: "m-uncached",
      providerId: "prov",
      upstreamModel: "gpt-4o-mini",
      inputUsdPer1M: "1",
      outputUsdPer1M: "2",
      tier: "paid",
    });
    expect(plain.cachedInputUsdPer1M).toBeNull();
    const cached = await master.models.create.mutate({
      projectId,
      id: "m-cached",
      providerId: "prov",
      upstreamModel: "gpt-4o-mini",
      inputUsdPer1M: "1",
      outputUsdPer1M: "2",
      cachedInputUsdPer1M: "0.250",
      tier: "paid",
    });
    expect(cached.cachedInputUsdPer1M).toBe("0.25");
    const stored = async (slug: string) =>
      (
        await services.sql<{ cached: bigint | null }[]>`
          select cached_input_per1_m as cached from models
          where project_id = ${projectId} and slug = ${slug}`
      )[0]!.cached;
    expect(await stored("m-cached")).toBe(250_000_000n);
    const raised = await master.models.update.mutate({
      projectId,
      id: "m-cached",
      cachedInputUsdPer1M: "0.5",
    });
    expect(raised.cachedInputUsdPer1M).toBe("0.5");
    const untouched = await master.models.update.mutate({
      projectId,
      id: "m-cached",
      tier: "free",
    });
    expect(untouched.cachedInputUsdPer1M).toBe("0.5");
    const cleared = await master.models.update.mutate({
      projectId,
      id: "m-cached",
      cachedInputUsdPer1M: null,
    });
    expect(cleared.cachedInputUsdPer1M).toBeNull();
    expect(await stored("m-cached")).toBeNull();

    for (const value of ["-1", "abc", "10001"]) {
      await expect(
        master.models.update.mutate({ projectId, id: "m-uncached", cachedInputUsdPer1M: value }),
      ).rejects.toMatchObject({ data: { code: "BAD_REQUEST" } });
    }
    expect(await stored("m-uncached")).toBeNull();
  });

  it("the default price list carries the vendors' cached-input prices", async () => {
    const other = (await master.projects.create.mutate({ name: "Defaults" })).id;
    await master.providers.create.mutate({
      projectId: other,
      id: "prov",
      kind: "openai",
      baseUrl: "http://127.0.0.1:9/v1",
      apiKey: "sk-test",
    });
    await master.models.importDefaults.mutate({ projectId: other });
    const models = (await master.models.list.query({ projectId: other, limit: 100 })).items;
    expect(models.find((m) => m.id === "gpt-4o")?.cachedInputUsdPer1M).toBe("1.25");
    expect(models.find((m) => m.id === "gpt-4-turbo")?.cachedInputUsdPer1M).toBeNull();
  });

  it("policy price limits are stored in canonical form", async () => {
    const { key } = await master.keys.create.mutate({
      projectId,
      label: "price capped",
      policy: { maxInputUsdPer1M: "0.150", maxOutputUsdPer1M: "10000.000" },
    });
    expect(key.policy).toEqual({ maxInputUsdPer1M: "0.15", maxOutputUsdPer1M: "10000" });
    const [row] = await services.sql<{ policy: unknown }[]>`
      select policy from api_keys where id = ${key.id}`;
    expect(row!.policy).toEqual({ maxInputUsdPer1M: "0.15", maxOutputUsdPer1M: "10000" });
  });
});

describe("amounts beyond 2^53 nanos (about $9M)", () => {
  it("a key's spend sums exactly", async () => {
    const { key } = await master.keys.create.mutate({ projectId, label: "big spender" });
    // Two days that together pass Number.MAX_SAFE_INTEGER nanos by far, with one odd nano.
    await services.sql`
      insert into key_spend_daily (key_id, day, cost, requests) values
        (${key.id}, current_date - 1, ${6_000_000_000_000_001n}, 1),
        (${key.id}, current_date, ${6_000_000_000_000_000n}, 1)`;
    const read = await master.keys.get.query({ id: key.id });
    expect(read.lifetimeSpendUsd).toBe("12000000.000000001");
    expect(read.spendUsd).toBe("12000000.000000001");
  });

  it("usage and logs report ledger costs exactly", async () => {
    const { key } = await master.keys.create.mutate({ projectId, label: "ledger" });
    const admittedAt = new Date(Date.now() - 60_000).toISOString();
    // Through the worker's own ingest, so the ledger and the rollups the usage pages read agree.
    await ingestUsageEvents(
      services.db,
      (
        [
          ["req_big_1", 5_000_000_000_000_001n],
          ["req_big_2", 5_000_000_000_000_000n],
        ] as const
      ).map(([requestId, cost]) => ({
        requestId,
        projectId,
        keyId: key.id,
        model: "gpt-4o",
        provider: "prov",
        outcome: "allowed" as const,
        code: null,
        status: 200,
        stream: false,
        inputTokens: 0,
        outputTokens: 0,
        costNanos: cost.toString(),
        reservedNanos: "0",
        latencyMs: 1,
        admittedAt,
      })),
    );
    const summary = await master.usage.summary.query({ projectId });
    expect(summary.overall.costUsd).toBe("10000000.000000001");
    expect(summary.byModel).toMatchObject([{ model: "gpt-4o", costUsd: "10000000.000000001" }]);
    expect(summary.byKey).toMatchObject([{ keyId: key.id, costUsd: "10000000.000000001" }]);
    const logs = await master.logs.list.query({ projectId, keyId: key.id });
    expect(logs.items.map((l) => l.costUsd).sort()).toEqual(["5000000", "5000000.000000001"]);
    const series = await master.usage.timeseries.query({ projectId, bucket: "day" });
    expect(series.points.map((p) => p.costUsd)).toEqual(["10000000.000000001"]);
  });
});

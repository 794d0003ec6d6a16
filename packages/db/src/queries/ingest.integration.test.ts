import { createTestServices, type TestServices } from "@osm/testing/context";
import { eq, inArray } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiKeys } from "../schema/keys.ts";
import { keySpendDaily, usageDaily, usageHourly, usageLedger } from "../schema/usage.ts";
import { type IngestEvent, ingestUsageEvents } from "./ingest.ts";

let services: TestServices;
beforeAll(async () => {
  services = await createTestServices();
});
afterAll(() => services.close());

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** A fresh project with `count` keys, so that every test starts from empty totals. */
async function freshTenant(count: number) {
  const projectId = `prj_${Math.random().toString(36).slice(2, 10)}`;
  await services.sql`insert into projects (id, name) values (${projectId}, 'ingest')`;
  const keyIds = Array.from({ length: count }, (_, i) => `key_${projectId.slice(4)}_${i}`);
  for (const id of keyIds) {
    await services.sql`insert into api_keys (id, project_id, label, secret_hash, display)
      values (${id}, ${projectId}, ${id}, ${`hash_${id}`}, 'osm_x…x')`;
  }
  return { projectId, keyIds };
}

function event(overrides: Partial<IngestEvent> & Pick<IngestEvent, "requestId" | "keyId">) {
  return {
    projectId: "prj_x",
    model: "gpt-4o-mini",
    provider: "openai",
    outcome: "allowed",
    code: null,
    status: 200,
    stream: false,
    inputTokens: 10,
    outputTokens: 20,
    costNanos: "1000",
    reservedNanos: "5000",
    latencyMs: 12,
    admittedAt: "2025-03-01T10:15:00.000Z",
    ...overrides,
  } satisfies IngestEvent;
}

/** Deterministic, so a failure reproduces. */
function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Expected = {
  spend: Map<string, { cost: bigint; requests: number }>;
  hourly: Map<string, Totals>;
  daily: Map<string, Totals>;
};
type Totals = {
  requests: number;
  errors: number;
  denied: number;
  codes: Record<string, number>;
  inputTokens: bigint;
  outputTokens: bigint;
  cost: bigint;
};

/** The totals the ingest must produce, computed independently from the events. */
function expectedTotals(events: IngestEvent[]): Expected {
  const result: Expected = { spend: new Map(), hourly: new Map(), daily: new Map() };
  for (const e of events) {
    const at = Date.parse(e.admittedAt);
    const day = new Date(Math.floor(at / DAY_MS) * DAY_MS);
    const spendId = `${e.keyId}|${day.toISOString().slice(0, 10)}`;
    const spend = result.spend.get(spendId) ?? { cost: 0n, requests: 0 };
    spend.cost += BigInt(e.costNanos);
    if (e.outcome === "allowed") spend.requests += 1;
    result.spend.set(spendId, spend);
    for (const [map, bucket] of [
      [result.hourly, HOUR_MS],
      [result.daily, DAY_MS],
    ] as const) {
      const start = new Date(Math.floor(at / bucket) * bucket).toISOString();
      const id = `${e.keyId}|${e.model ?? ""}|${start}`;
      const t = map.get(id) ?? {
        requests: 0,
        errors: 0,
        denied: 0,
        codes: {},
        inputTokens: 0n,
        outputTokens: 0n,
        cost: 0n,
      };
      t.requests += 1;
      if (e.outcome === "error") t.errors += 1;
      if (e.outcome === "denied") t.denied += 1;
      if (e.outcome !== "allowed" && e.code) t.codes[e.code] = (t.codes[e.code] ?? 0) + 1;
      t.inputTokens += BigInt(e.inputTokens);
      t.outputTokens += BigInt(e.outputTokens);
      t.cost += BigInt(e.costNanos);
      map.set(id, t);
    }
  }
  for (const [id, s] of result.spend)
    if (s.cost === 0n && s.requests === 0) result.spend.delete(id);
  return result;
}

async function storedTotals(keyIds: string[]): Promise<Expected> {
  const spendRows = await services.db
    .select()
    .from(keySpendDaily)
    .where(inArray(keySpendDaily.keyId, keyIds));
  const rollup = async (table: typeof usageHourly | typeof usageDaily) => {
    const rows = await services.db.select().from(table).where(inArray(table.keyId, keyIds));
    return new Map(
      rows.map((r) => [
        `${r.keyId}|${r.model}|${r.bucketStart.toISOString()}`,
        {
          requests: r.requests,
          errors: r.errors,
          denied: r.denied,
          codes: r.codes,
          inputTokens: r.inputTokens,
          outputTokens: r.outputTokens,
          cost: r.cost,
        },
      ]),
    );
  };
  return {
    spend: new Map(
      spendRows.map((r) => [`${r.keyId}|${r.day}`, { cost: r.cost, requests: r.requests }]),
    ),
    hourly: await rollup(usageHourly),
    daily: await rollup(usageDaily),
  };
}

async function ledgerCounts(keyIds: string[]) {
  const [row] = await services.sql<{ rows: number; ids: number }[]>`
    select count(*)::int as rows, count(distinct request_id)::int as ids
    from usage_ledger where key_id = any(${keyIds})`;
  return row!;
}

describe("ingestUsageEvents", () => {
  it("lands an event delivered five times once, within one batch and across batches", async () => {
    const { projectId, keyIds } = await freshTenant(1);
    const keyId = keyIds[0]!;
    const once = event({ requestId: "req_dup_1", keyId, projectId, costNanos: "123456789" });
    const other = event({
      requestId: "req_dup_2",
      keyId,
      projectId,
      costNanos: "1",
      admittedAt: "2025-03-01T11:59:59.999Z",
    });

    expect(await ingestUsageEvents(services.db, [once, once, once, once, once])).toEqual({
      inserted: 1,
      duplicates: 4,
    });
    const across = await Promise.all([
      ingestUsageEvents(services.db, [once]),
      ingestUsageEvents(services.db, [once, other]),
      ingestUsageEvents(services.db, [other, once]),
      ingestUsageEvents(services.db, [once]),
      ingestUsageEvents(services.db, [once, other, once]),
    ]);
    expect(across.reduce((n, r) => n + r.inserted, 0)).toBe(1);
    expect(across.reduce((n, r) => n + r.duplicates, 0)).toBe(8);

    expect(await ledgerCounts(keyIds)).toEqual({ rows: 2, ids: 2 });
    expect(await storedTotals(keyIds)).toEqual(expectedTotals([once, other]));
    const [key] = await services.db
      .select({ lastUsedAt: apiKeys.lastUsedAt })
      .from(apiKeys)
      .where(eq(apiKeys.id, keyId));
    expect(key?.lastUsedAt?.toISOString()).toBe("2025-03-01T11:59:59.999Z");
  });

  it("keeps every field as sent, quotes, backslashes, braces and nulls included", async () => {
    const { projectId, keyIds } = await freshTenant(1);
    const keyId = keyIds[0]!;
    const awkward = 'a "quoted", {braced} \\ back\\slashed NULL';
    await ingestUsageEvents(services.db, [
      event({
        requestId: "req_text_1",
        keyId,
        projectId,
        model: null,
        provider: null,
        stream: true,
        endUser: awkward,
        tags: ["team=a", "NULL", "x/y:z"],
        shadowDenial: { code: "model_not_allowed", message: awkward },
        costNanos: "9223372036854775807",
      }),
      event({ requestId: "req_text_2", keyId, projectId, code: "NULL", costNanos: "0" }),
    ]);
    const rows = await services.db
      .select()
      .from(usageLedger)
      .where(eq(usageLedger.keyId, keyId))
      .orderBy(usageLedger.requestId);
    expect(rows.map((r) => [r.requestId, r.model, r.provider, r.stream, r.code])).toEqual([
      ["req_text_1", null, null, true, null],
      ["req_text_2", "gpt-4o-mini", "openai", false, "NULL"],
    ]);
    expect(rows[0]).toMatchObject({
      endUser: awkward,
      tags: ["team=a", "NULL", "x/y:z"],
      shadowCode: "model_not_allowed",
      shadowMessage: awkward,
      cost: 9223372036854775807n,
    });
    expect(rows[1]).toMatchObject({ endUser: null, tags: null, shadowCode: null });
  });

  it("counts denials and errors in the rollups and charges only the cost they carry", async () => {
    const { projectId, keyIds } = await freshTenant(1);
    const keyId = keyIds[0]!;
    const events = [
      event({ requestId: "req_mix_1", keyId, projectId, costNanos: "700" }),
      event({
        requestId: "req_mix_2",
        keyId,
        projectId,
        outcome: "denied",
        code: "model_not_allowed",
        status: 403,
        inputTokens: 0,
        outputTokens: 0,
        costNanos: "0",
      }),
      event({
        requestId: "req_mix_3",
        keyId,
        projectId,
        model: null,
        outcome: "denied",
        code: "spending_limit_reached",
        status: 403,
        inputTokens: 0,
        outputTokens: 0,
        costNanos: "0",
      }),
      // A stream that broke after tokens were produced: charged what it produced.
      event({
        requestId: "req_mix_4",
        keyId,
        projectId,
        outcome: "error",
        code: "upstream_error",
        status: 502,
        costNanos: "300",
      }),
    ];
    await ingestUsageEvents(services.db, events);
    await ingestUsageEvents(services.db, [
      event({
        requestId: "req_mix_5",
        keyId,
        projectId,
        outcome: "denied",
        code: "model_not_allowed",
        status: 403,
        costNanos: "0",
      }),
    ]);

    const stored = await storedTotals(keyIds);
    expect(stored.spend.get(`${keyId}|2025-03-01`)).toEqual({ cost: 1000n, requests: 1 });
    expect(stored.hourly.get(`${keyId}|gpt-4o-mini|2025-03-01T10:00:00.000Z`)).toMatchObject({
      requests: 4,
      errors: 1,
      denied: 2,
      codes: { model_not_allowed: 2, upstream_error: 1 },
      cost: 1000n,
    });
    expect(stored.daily.get(`${keyId}||2025-03-01T00:00:00.000Z`)).toMatchObject({
      requests: 1,
      denied: 1,
      codes: { spending_limit_reached: 1 },
      cost: 0n,
    });
  });

  it("keeps exact totals for 10,000 events from 20 concurrent producers that also resend", async () => {
    const { projectId, keyIds } = await freshTenant(10);
    const random = prng(20250301);
    const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
    const models = ["gpt-4o", "gpt-4o-mini", "claude-sonnet", null] as const;
    const start = Date.parse("2025-03-01T20:00:00.000Z");
    const events: IngestEvent[] = [];
    for (let i = 0; i < 10_000; i++) {
      const roll = random();
      const outcome = roll < 0.7 ? "allowed" : roll < 0.9 ? "denied" : "error";
      // Up to ~$5,000 an event: the totals pass 2^53 nano-USD, where a float would round.
      const cost =
        outcome === "allowed" || (outcome === "error" && random() < 0.5)
          ? BigInt(Math.floor(random() * 5e12))
          : 0n;
      events.push(
        event({
          requestId: `req_${i.toString().padStart(5, "0")}`,
          projectId,
          keyId: pick(keyIds),
          model: pick(models),
          outcome,
          code:
            outcome === "denied"
              ? pick(["model_not_allowed", "spending_limit_reached", "rate_limit_exceeded"])
              : outcome === "error"
                ? pick(["upstream_error", "upstream_timeout"])
                : null,
          status: outcome === "allowed" ? 200 : outcome === "denied" ? 403 : 502,
          inputTokens: Math.floor(random() * 100_000),
          outputTokens: Math.floor(random() * 10_000),
          costNanos: cost.toString(),
          // 28 hours from 20:00: two UTC days and every hour boundary in between.
          admittedAt: new Date(start + Math.floor(random() * 28 * HOUR_MS)).toISOString(),
        }),
      );
    }
    const batches = Array.from({ length: 20 }, (_, b) => {
      const own = events.slice(b * 500, (b + 1) * 500);
      // A retrying producer resends part of a neighbour's batch, racing its first delivery.
      const resent = events.slice(((b + 1) % 20) * 500, ((b + 1) % 20) * 500 + 50);
      return [...own, ...resent].sort(() => random() - 0.5);
    });

    const startedAt = performance.now();
    const results = await Promise.all(batches.map((b) => ingestUsageEvents(services.db, b)));
    const elapsed = performance.now() - startedAt;

    expect(results.reduce((n, r) => n + r.inserted, 0)).toBe(10_000);
    expect(results.reduce((n, r) => n + r.duplicates, 0)).toBe(1_000);
    expect(await ledgerCounts(keyIds)).toEqual({ rows: 10_000, ids: 10_000 });
    const expected = expectedTotals(events);
    const stored = await storedTotals(keyIds);
    expect(stored.spend).toEqual(expected.spend);
    expect(stored.hourly).toEqual(expected.hourly);
    expect(stored.daily).toEqual(expected.daily);
    const total = [...expected.spend.values()].reduce((n, s) => n + s.cost, 0n);
    expect(total > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
    console.info(`ingested 10,000 events in 20 concurrent batches in ${elapsed.toFixed(0)} ms`);
  });
});

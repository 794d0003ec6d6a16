import { ingestUsageEvents } from "@osm/db/queries/ingest";
import { settledSpend } from "@osm/db/queries/keys";
import { dropExpiredLedgerDays } from "@osm/db/queries/retention";
import { spendWindow } from "@osm/policy/windows";
import { createTestServices, type TestServices } from "@osm/testing/context";
import { usageEvent } from "@osm/testing/usage-events";
import { testWorkerConfig } from "@osm/testing/worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningWorker, startWorker } from "../src/worker.ts";

let services: TestServices;
let worker: RunningWorker;

beforeAll(async () => {
  services = await createTestServices();
  worker = await startWorker(
    testWorkerConfig(services, {
      concurrency: 1,
      retentionDays: 30,
      // The scheduler's own passes run in 2000: they must not drop what these tests look at.
      now: () => new Date("2000-01-01T00:00:00Z"),
    }),
  );
});

afterAll(async () => {
  await worker?.close();
  await services?.close();
});

const at = (iso: string) => new Date(iso).toISOString();

/** Every rollup row of the given keys, as text, in a stable order. */
async function rollups(keyPattern: string) {
  const sql = services.sql;
  return {
    hourly: await sql`select key_id, model, bucket_start, requests, cost::text, input_tokens::text
      from usage_hourly where key_id like ${keyPattern} order by 1, 2, 3`,
    daily: await sql`select key_id, model, bucket_start, requests, cost::text, input_tokens::text
      from usage_daily where key_id like ${keyPattern} order by 1, 2, 3`,
    spend: await sql`select key_id, day, cost::text, requests
      from key_spend_daily where key_id like ${keyPattern} order by 1, 2`,
  };
}

async function ledgerIds(keyPattern: string) {
  const rows = await services.sql<{ request_id: string }[]>`
    select request_id from usage_ledger where key_id like ${keyPattern} order by 1`;
  return rows.map((r) => r.request_id);
}

describe("ledger retention", () => {
  it("drops exactly the expired UTC days, keeps rollups, and keeps the ledger a budget still reads", async () => {
    // now: 2025-06-15 10:30 UTC, 30 days kept before today → the cutoff is 2025-05-16 00:00.
    const now = new Date("2025-06-15T10:30:00.000Z");
    await services.sql`insert into projects (id, name) values ('prj_ret_a', 'a'), ('prj_ret_b', 'b')`;
    // An all-time budget reset on 2025-04-01: settledSpend sums its ledger from then on.
    // A monthly budget reset in May: that reset lies in an ended window, so nothing is kept.
    await services.sql`insert into api_keys
      (id, project_id, label, secret_hash, display, spend_limit, budget_period, spend_reset_at) values
      ('key_ret_none', 'prj_ret_a', 'none', 'h_ret_none', 'd', 1000000000000, 'none', '2025-04-01T00:00:00Z'),
      ('key_ret_month', 'prj_ret_b', 'month', 'h_ret_month', 'd', 1000000000000, 'monthly', '2025-05-10T00:00:00Z')`;

    // [request id suffix, project, key, admitted at, kept]
    const table: [string, string, string, string, boolean][] = [
      // prj_ret_a, plain key
      ["old_2024", "a", "plain_a", "2024-12-31T12:00:00Z", false],
      ["may01", "a", "plain_a", "2025-05-01T00:00:00Z", false],
      ["last_ms_expired", "a", "plain_a", "2025-05-15T23:59:59.999Z", false],
      // The first kept day survives whole, although older than 30 × 24 h from now.
      ["first_kept_ms", "a", "plain_a", "2025-05-16T00:00:00.000Z", true],
      ["just_over_30x24h", "a", "plain_a", "2025-05-16T10:29:59.999Z", true],
      ["today", "a", "plain_a", "2025-06-15T10:00:00Z", true],
      // prj_ret_a, all-time budget with a reset: before the reset it goes, after it stays.
      ["none_before_reset", "a", "none", "2025-03-31T23:59:59.999Z", false],
      ["none_after_reset", "a", "none", "2025-04-02T08:00:00Z", true],
      ["none_recent", "a", "none", "2025-06-01T08:00:00Z", true],
      // prj_ret_b: a monthly key whose reset is in last month's window.
      ["month_before_reset", "b", "month", "2025-05-09T08:00:00Z", false],
      ["month_after_reset", "b", "month", "2025-05-11T08:00:00Z", false],
      ["month_kept", "b", "month", "2025-05-20T08:00:00Z", true],
      // A key of no known project (deleted): its old rows go too.
      ["orphan_old", "gone", "orphan", "2025-02-02T02:02:02Z", false],
    ];
    const rows = table.map(([id, project, key, admittedAt, kept]) => ({
      id,
      project,
      key,
      admittedAt,
      kept,
    }));
    const events = rows.map((r, i) => ({
      ...usageEvent("ret", i),
      requestId: `req_ret_${r.id}`,
      projectId: `prj_ret_${r.project}`,
      keyId: `key_ret_${r.key}`,
      admittedAt: at(r.admittedAt),
    }));
    // The real ingest path: ledger rows and the rollups derived from them, in one transaction.
    expect((await ingestUsageEvents(services.db, events)).inserted).toBe(rows.length);

    const before = await rollups("key\\_ret\\_%");
    expect(before.spend.length).toBeGreaterThan(5);
    const noneKey = {
      budgetPeriod: "none" as const,
      spendResetAt: new Date("2025-04-01T00:00:00Z"),
    };
    const budgetBefore = await settledSpend(
      services.db,
      new Map([["key_ret_none", spendWindow(noneKey, now)]]),
    );

    const pass = await worker.resetDue(now);
    expect(pass.ledgerRowsDropped).toBe(rows.filter((r) => !r.kept).length);
    expect(await ledgerIds("key\\_ret\\_%")).toEqual(
      rows
        .filter((r) => r.kept)
        .map((r) => `req_ret_${r.id}`)
        .sort(),
    );
    expect(await rollups("key\\_ret\\_%")).toEqual(before);
    expect(
      await settledSpend(services.db, new Map([["key_ret_none", spendWindow(noneKey, now)]])),
    ).toEqual(budgetBefore);

    // The same day again: nothing left to do.
    expect((await worker.resetDue(new Date("2025-06-15T23:59:59.999Z"))).ledgerRowsDropped).toBe(0);
    // The next UTC day moves the cutoff by one whole day: 2025-05-16 goes, 2025-05-20 stays.
    const nextDay = await worker.resetDue(new Date("2025-06-16T00:00:00.000Z"));
    expect(nextDay.ledgerRowsDropped).toBe(2);
    expect(await ledgerIds("key\\_ret\\_plain\\_a")).toEqual(["req_ret_today"]);
    expect(await ledgerIds("key\\_ret\\_month")).toEqual(["req_ret_month_kept"]);
    expect(await rollups("key\\_ret\\_%")).toEqual(before);
  });

  it("deletes in bounded chunks, and two passes at once share the rows without doubling a count", async () => {
    const now = new Date("2025-09-10T12:00:00Z");
    const expired = 2_400;
    const events = Array.from({ length: expired + 60 }, (_, i) => ({
      ...usageEvent("chunk", i),
      projectId: `prj_chunk_${i % 3}`,
      // 2,400 rows over the three days before the cutoff (2025-08-11), 60 on the first kept day.
      admittedAt:
        i < expired
          ? new Date(Date.UTC(2025, 7, 8 + (i % 3), 0, 0, i % 60)).toISOString()
          : new Date(Date.UTC(2025, 7, 11, 0, 0, i % 60)).toISOString(),
    }));
    for (let i = 0; i < events.length; i += 1000)
      await ingestUsageEvents(services.db, events.slice(i, i + 1000));
    const before = await rollups("key\\_chunk\\_%");
    const ledgerSize = async () =>
      Number((await services.sql`select count(*)::int as n from usage_ledger`)[0]!.n);
    const sizeBefore = await ledgerSize();

    const passes = await Promise.all([
      dropExpiredLedgerDays(services.db, now, 30, { chunkRows: 100 }),
      dropExpiredLedgerDays(services.db, now, 30, { chunkRows: 100 }),
    ]);
    // Between them the passes counted each dropped row once (the earlier test's leftovers
    // expire at this clock too, hence the whole ledger's size).
    expect(passes[0] + passes[1]).toBe(sizeBefore - (await ledgerSize()));
    expect(sizeBefore - (await ledgerSize())).toBeGreaterThanOrEqual(expired);
    expect((await ledgerIds("key\\_chunk\\_%")).length).toBe(60);
    expect(await rollups("key\\_chunk\\_%")).toEqual(before);
    expect(await dropExpiredLedgerDays(services.db, now, 30)).toBe(0);
  });

  it("refuses a retention below one day", async () => {
    await expect(dropExpiredLedgerDays(services.db, new Date(), 0)).rejects.toThrow(RangeError);
  });
});

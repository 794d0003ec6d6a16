// Usage events as the proxy emits them, and the totals the worker must derive from them: for the
// tests of ingest, rollups and the faults around them.
import type { UsageEvent } from "@osm/jobs/usage-event";
import type { TestServices } from "./context.ts";

const DAY_MS = 86_400_000;
/**
 * Yesterday 23:00 UTC, so that a run of events crosses a UTC midnight. Recent on purpose: a
 * worker's housekeeping drops ledger days older than its retention (30 days by default).
 */
const firstAdmittedAt = Math.floor(Date.now() / DAY_MS) * DAY_MS - 3_600_000;

/**
 * An allowed request whose cost varies by index, so that sums catch a lost or doubled row.
 * `run` namespaces request and key ids, so that the tests of one file count only their own.
 */
export function usageEvent(run: string, index: number, overrides: Partial<UsageEvent> = {}) {
  return {
    requestId: `req_${run}_${index.toString().padStart(6, "0")}`,
    projectId: "prj_worker",
    keyId: `key_${run}_${index % 7}`,
    model: index % 3 === 0 ? "gpt-4o" : "gpt-4o-mini",
    provider: "openai",
    outcome: "allowed",
    code: null,
    status: 200,
    stream: index % 2 === 0,
    inputTokens: 100 + (index % 50),
    outputTokens: 10 + (index % 20),
    costNanos: String(1_000_003 * (index + 1)),
    reservedNanos: "90000000",
    latencyMs: 25,
    admittedAt: new Date(firstAdmittedAt + index * 1_000).toISOString(),
    ...overrides,
  } satisfies UsageEvent;
}

export const sumCost = (events: readonly UsageEvent[]) =>
  events.reduce((sum, e) => sum + BigInt(e.costNanos), 0n);

export type RunTotals = {
  rows: number;
  ids: number;
  ledgerCost: bigint;
  spendCost: bigint;
  spendRequests: number;
  hourlyCost: bigint;
  hourlyRequests: number;
  dailyCost: bigint;
};

/** The ledger of one run and every total derived from it. */
export async function runTotals(services: TestServices, run: string): Promise<RunTotals> {
  // LIKE's `_` matches any character: escaped, so that run "a" never counts run "ab".
  const keys = `key\\_${run}\\_%`;
  const [row] = await services.sql<Record<keyof RunTotals, string | number>[]>`
    select
      (select count(*)::int from usage_ledger where key_id like ${keys}) as rows,
      (select count(distinct request_id)::int from usage_ledger where key_id like ${keys}) as ids,
      (select coalesce(sum(cost), 0)::text from usage_ledger where key_id like ${keys}) as "ledgerCost",
      (select coalesce(sum(cost), 0)::text from key_spend_daily where key_id like ${keys}) as "spendCost",
      (select coalesce(sum(requests), 0)::int from key_spend_daily where key_id like ${keys}) as "spendRequests",
      (select coalesce(sum(cost), 0)::text from usage_hourly where key_id like ${keys}) as "hourlyCost",
      (select coalesce(sum(requests), 0)::int from usage_hourly where key_id like ${keys}) as "hourlyRequests",
      (select coalesce(sum(cost), 0)::text from usage_daily where key_id like ${keys}) as "dailyCost"`;
  if (!row) throw new Error("no totals row");
  return {
    rows: Number(row.rows),
    ids: Number(row.ids),
    ledgerCost: BigInt(row.ledgerCost),
    spendCost: BigInt(row.spendCost),
    spendRequests: Number(row.spendRequests),
    hourlyCost: BigInt(row.hourlyCost),
    hourlyRequests: Number(row.hourlyRequests),
    dailyCost: BigInt(row.dailyCost),
  };
}

/** What runTotals must read once every event landed exactly once (all events allowed). */
export function totalsOf(events: readonly UsageEvent[]): RunTotals {
  const cost = sumCost(events);
  return {
    rows: events.length,
    ids: events.length,
    ledgerCost: cost,
    spendCost: cost,
    spendRequests: events.length,
    hourlyCost: cost,
    hourlyRequests: events.length,
    dailyCost: cost,
  };
}

import {
  and,
  arrayContains,
  desc,
  eq,
  gte,
  inArray,
  isNotNull,
  isNull,
  lt,
  type SQL,
  sql,
} from "drizzle-orm";
import type { DbOrTx } from "../client.ts";
import { apiKeys } from "../schema/keys.ts";
import { usageDaily, usageHourly, usageLedger } from "../schema/usage.ts";
import { type PageParams, toPage } from "./pagination.ts";

/** End-user attribution filters, shared by the usage figures and the request log. */
export type AttributionFilter = { endUser?: string; tag?: string };

const attributed = (f: AttributionFilter) =>
  and(
    f.endUser ? eq(usageLedger.endUser, f.endUser) : undefined,
    f.tag ? arrayContains(usageLedger.tags, [f.tag]) : undefined,
  );

const isAttributed = (f: AttributionFilter) => f.endUser !== undefined || f.tag !== undefined;

export type UsageRange = {
  projectId: string;
  from: Date;
  to: Date;
  keyId?: string;
  keyIds?: string[];
} & AttributionFilter;
export type UsageBucket = "hour" | "day";
export const usageGroups = ["model", "key", "provider"] as const;
export type UsageGroup = (typeof usageGroups)[number];

type Rollup = typeof usageHourly | typeof usageDaily;

// Ranges read the rollups, never the ledger: the ledger is pruned after its retention while the
// rollups are kept, so a range past retention still adds up. A range of whole days reads the
// daily table; anything finer the hourly one.
const rollupFor = (bucket: UsageBucket): Rollup => (bucket === "day" ? usageDaily : usageHourly);

const bucketMs = { hour: 3_600_000, day: 86_400_000 } as const;

// A bucket counts when it overlaps the range: the one the range starts inside is included.
function inRange(t: Rollup, r: UsageRange) {
  const size = t === usageDaily ? bucketMs.day : bucketMs.hour;
  const from = new Date(Math.floor(r.from.getTime() / size) * size);
  return and(
    eq(t.projectId, r.projectId),
    gte(t.bucketStart, from),
    lt(t.bucketStart, r.to),
    r.keyId ? eq(t.keyId, r.keyId) : undefined,
    r.keyIds ? inArray(t.keyId, r.keyIds) : undefined,
  );
}

function totals(t: Rollup) {
  return {
    requests: sql<number>`coalesce(sum(${t.requests}), 0)::int`,
    denied: sql<number>`coalesce(sum(${t.denied}), 0)::int`,
    errors: sql<number>`coalesce(sum(${t.errors}), 0)::int`,
    inputTokens: sql<string>`coalesce(sum(${t.inputTokens}), 0)::text`,
    outputTokens: sql<string>`coalesce(sum(${t.outputTokens}), 0)::text`,
    cost: sql<string>`coalesce(sum(${t.cost}), 0)::text`,
  };
}

/** The provider a rollup row's model routes to today ('' when the model is gone). */
function providerOf(t: Rollup): SQL<string> {
  const table = sql.identifier(t === usageDaily ? "usage_daily" : "usage_hourly");
  return sql<string>`coalesce((select p.slug from models m join providers p on p.id = m.provider_id where m.project_id = ${table}.project_id and m.slug = ${table}.model), '')`;
}

function groupColumn(t: Rollup, group: UsageGroup): SQL<string> {
  if (group === "key") return sql<string>`${t.keyId}`;
  if (group === "provider") return providerOf(t);
  return sql<string>`${t.model}`;
}

// The rollups carry no end user or tag, so a filter on those reads the ledger (and is bounded
// by its retention).
const ledgerTotals = {
  requests: sql<number>`count(*)::int`,
  denied: sql<number>`(count(*) filter (where ${usageLedger.outcome} = 'denied'))::int`,
  errors: sql<number>`(count(*) filter (where ${usageLedger.outcome} = 'error'))::int`,
  inputTokens: sql<string>`coalesce(sum(${usageLedger.inputTokens}), 0)::text`,
  outputTokens: sql<string>`coalesce(sum(${usageLedger.outputTokens}), 0)::text`,
  cost: sql<string>`coalesce(sum(${usageLedger.cost}), 0)::text`,
};

const ledgerInRange = (r: UsageRange) =>
  and(
    eq(usageLedger.projectId, r.projectId),
    gte(usageLedger.admittedAt, r.from),
    lt(usageLedger.admittedAt, r.to),
    r.keyId ? eq(usageLedger.keyId, r.keyId) : undefined,
    r.keyIds ? inArray(usageLedger.keyId, r.keyIds) : undefined,
    attributed(r),
  );

function ledgerGroupColumn(group: UsageGroup): SQL<string> {
  if (group === "key") return sql<string>`${usageLedger.keyId}`;
  if (group === "provider") return sql<string>`coalesce(${usageLedger.provider}, '')`;
  return sql<string>`coalesce(${usageLedger.model}, '')`;
}

async function ledgerSummary(db: DbOrTx, range: UsageRange) {
  const where = ledgerInRange(range);
  const [overall] = await db.select(ledgerTotals).from(usageLedger).where(where);
  const byModel = await db
    .select({ model: ledgerGroupColumn("model"), ...ledgerTotals })
    .from(usageLedger)
    .where(where)
    .groupBy(sql`1`)
    .orderBy(sql`1`);
  const byKey = await db
    .select({ keyId: usageLedger.keyId, ...ledgerTotals })
    .from(usageLedger)
    .where(where)
    .groupBy(usageLedger.keyId)
    .orderBy(usageLedger.keyId);
  return { overall: overall!, byModel, byKey };
}

export async function usageSummary(db: DbOrTx, range: UsageRange) {
  if (isAttributed(range)) return ledgerSummary(db, range);
  const t = usageHourly;
  const [overall] = await db.select(totals(t)).from(t).where(inRange(t, range));
  const byModel = await db
    .select({ model: t.model, ...totals(t) })
    .from(t)
    .where(inRange(t, range))
    .groupBy(t.model)
    .orderBy(t.model);
  const byKey = await db
    .select({ keyId: t.keyId, ...totals(t) })
    .from(t)
    .where(inRange(t, range))
    .groupBy(t.keyId)
    .orderBy(t.keyId);
  return { overall: overall!, byModel, byKey };
}

/** Points per bucket and group (model by default), for stacked charts. */
export async function usageTimeseries(
  db: DbOrTx,
  range: UsageRange,
  bucket: UsageBucket,
  group: UsageGroup = "model",
) {
  const rows = isAttributed(range)
    ? await db
        .select({
          bucketStart: sql<Date>`date_trunc(${bucket}, ${usageLedger.admittedAt}, 'UTC')`.mapWith(
            (v: string | Date) => new Date(v),
          ),
          series: ledgerGroupColumn(group),
          ...ledgerTotals,
        })
        .from(usageLedger)
        .where(ledgerInRange(range))
        .groupBy(sql`1`, sql`2`)
        .orderBy(sql`1`, sql`2`)
    : await rollupTimeseries(db, range, bucket, group);
  return rows.map((r) => ({ ...r, model: group === "model" ? r.series : undefined }));
}

function rollupTimeseries(db: DbOrTx, range: UsageRange, bucket: UsageBucket, group: UsageGroup) {
  const t = rollupFor(bucket);
  return db
    .select({ bucketStart: t.bucketStart, series: groupColumn(t, group), ...totals(t) })
    .from(t)
    .where(inRange(t, range))
    .groupBy(sql`1`, sql`2`)
    .orderBy(sql`1`, sql`2`);
}

/** Requests per key and hour over the last 24 h, for the sparklines of one page of keys. */
export async function keySparklines(db: DbOrTx, projectId: string, keyIds: string[], now: Date) {
  if (keyIds.length === 0) return new Map<string, number[]>();
  const hour = bucketMs.hour;
  const end = Math.floor(now.getTime() / hour) * hour + hour;
  const start = end - 24 * hour;
  const rows = await db
    .select({
      keyId: usageHourly.keyId,
      bucketStart: usageHourly.bucketStart,
      requests: sql<number>`sum(${usageHourly.requests})::int`,
    })
    .from(usageHourly)
    .where(
      and(
        eq(usageHourly.projectId, projectId),
        inArray(usageHourly.keyId, keyIds),
        gte(usageHourly.bucketStart, new Date(start)),
        lt(usageHourly.bucketStart, new Date(end)),
      ),
    )
    .groupBy(usageHourly.keyId, usageHourly.bucketStart);
  const lines = new Map(keyIds.map((id) => [id, Array.from({ length: 24 }, () => 0)]));
  for (const r of rows) {
    const slot = Math.floor((r.bucketStart.getTime() - start) / hour);
    const line = lines.get(r.keyId);
    if (line && slot >= 0 && slot < 24) line[slot] = r.requests;
  }
  return lines;
}

export const logOutcomes = ["allowed", "denied", "error", "shadow_denied"] as const;
export type LogOutcome = (typeof logOutcomes)[number];

export type LedgerFilter = PageParams &
  AttributionFilter & {
    projectId: string;
    keyId?: string;
    outcome?: LogOutcome;
    code?: string;
    model?: string;
    from?: Date;
    to?: Date;
    /** true: only requests a shadow-mode rule would have refused; false: only the others. */
    shadow?: boolean;
  };

// A shadow denial is an allowed request that a shadow-mode rule would have refused.
function outcomeCondition(outcome: LogOutcome): SQL | undefined {
  if (outcome === "shadow_denied") return isNotNull(usageLedger.shadowCode);
  return eq(usageLedger.outcome, outcome);
}

export async function listLedger(db: DbOrTx, params: LedgerFilter) {
  const rows = await db
    .select({ row: usageLedger, keyLabel: apiKeys.label })
    .from(usageLedger)
    .leftJoin(apiKeys, eq(apiKeys.id, usageLedger.keyId))
    .where(
      and(
        eq(usageLedger.projectId, params.projectId),
        params.cursor ? lt(usageLedger.requestId, params.cursor) : undefined,
        params.keyId ? eq(usageLedger.keyId, params.keyId) : undefined,
        params.outcome ? outcomeCondition(params.outcome) : undefined,
        params.code ? eq(usageLedger.code, params.code) : undefined,
        attributed(params),
        params.shadow === undefined
          ? undefined
          : params.shadow
            ? isNotNull(usageLedger.shadowCode)
            : isNull(usageLedger.shadowCode),
        params.model ? eq(usageLedger.model, params.model) : undefined,
        params.from ? gte(usageLedger.admittedAt, params.from) : undefined,
        params.to ? lt(usageLedger.admittedAt, params.to) : undefined,
      ),
    )
    .orderBy(desc(usageLedger.requestId))
    .limit(params.limit + 1);
  return toPage(
    rows.map((r) => ({ ...r.row, keyLabel: r.keyLabel, id: r.row.requestId })),
    params.limit,
  );
}

/** Would-be denials of a key's shadow policy in a range, by code and model. */
export async function shadowDenialCounts(
  db: DbOrTx,
  params: { keyId: string; from: Date; to: Date },
): Promise<{ code: string; model: string | null; count: number }[]> {
  return db
    .select({
      code: sql<string>`${usageLedger.shadowCode}`,
      model: usageLedger.model,
      count: sql<number>`count(*)::int`,
    })
    .from(usageLedger)
    .where(
      and(
        eq(usageLedger.keyId, params.keyId),
        isNotNull(usageLedger.shadowCode),
        gte(usageLedger.admittedAt, params.from),
        lt(usageLedger.admittedAt, params.to),
      ),
    )
    .groupBy(usageLedger.shadowCode, usageLedger.model)
    .orderBy(desc(sql`3`), usageLedger.shadowCode);
}

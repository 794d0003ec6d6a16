import { and, arrayContains, desc, eq, gte, isNotNull, isNull, lt, sql } from "drizzle-orm";
import type { DbOrTx } from "../client.ts";
import { type Outcome, usageLedger } from "../schema/usage.ts";
import { type PageParams, toPage } from "./pagination.ts";

/** End-user attribution filters, shared by the usage figures and the request log. */
export type AttributionFilter = { endUser?: string; tag?: string };

const attributed = (f: AttributionFilter) =>
  and(
    f.endUser ? eq(usageLedger.endUser, f.endUser) : undefined,
    f.tag ? arrayContains(usageLedger.tags, [f.tag]) : undefined,
  );

export type UsageRange = {
  projectId: string;
  from: Date;
  to: Date;
  keyId?: string;
} & AttributionFilter;

const inRange = (r: UsageRange) =>
  and(
    eq(usageLedger.projectId, r.projectId),
    gte(usageLedger.admittedAt, r.from),
    lt(usageLedger.admittedAt, r.to),
    r.keyId ? eq(usageLedger.keyId, r.keyId) : undefined,
    attributed(r),
  );

const totals = {
  requests: sql<number>`count(*)::int`,
  allowed: sql<number>`(count(*) filter (where ${usageLedger.outcome} = 'allowed'))::int`,
  denied: sql<number>`(count(*) filter (where ${usageLedger.outcome} = 'denied'))::int`,
  errors: sql<number>`(count(*) filter (where ${usageLedger.outcome} = 'error'))::int`,
  inputTokens: sql<string>`coalesce(sum(${usageLedger.inputTokens}), 0)::text`,
  outputTokens: sql<string>`coalesce(sum(${usageLedger.outputTokens}), 0)::text`,
  cost: sql<string>`coalesce(sum(${usageLedger.cost}), 0)::text`,
};

export async function usageSummary(db: DbOrTx, range: UsageRange) {
  const [overall] = await db.select(totals).from(usageLedger).where(inRange(range));
  const byModel = await db
    .select({ model: sql<string>`coalesce(${usageLedger.model}, '')`, ...totals })
    .from(usageLedger)
    .where(inRange(range))
    .groupBy(sql`1`)
    .orderBy(sql`1`);
  const byKey = await db
    .select({ keyId: usageLedger.keyId, ...totals })
    .from(usageLedger)
    .where(inRange(range))
    .groupBy(usageLedger.keyId)
    .orderBy(usageLedger.keyId);
  return { overall: overall!, byModel, byKey };
}

export async function usageTimeseries(db: DbOrTx, range: UsageRange, bucket: "hour" | "day") {
  const start = sql<Date>`date_trunc(${bucket}, ${usageLedger.admittedAt}, 'UTC')`;
  return db
    .select({
      bucketStart: start,
      model: sql<string>`coalesce(${usageLedger.model}, '')`,
      ...totals,
    })
    .from(usageLedger)
    .where(inRange(range))
    .groupBy(sql`1`, sql`2`)
    .orderBy(sql`1`, sql`2`);
}

export async function listLedger(
  db: DbOrTx,
  params: PageParams &
    AttributionFilter & {
      projectId: string;
      keyId?: string;
      outcome?: Outcome;
      code?: string;
      /** true: only requests a shadow-mode rule would have refused; false: only the others. */
      shadow?: boolean;
    },
) {
  const rows = await db
    .select()
    .from(usageLedger)
    .where(
      and(
        eq(usageLedger.projectId, params.projectId),
        params.cursor ? lt(usageLedger.requestId, params.cursor) : undefined,
        params.keyId ? eq(usageLedger.keyId, params.keyId) : undefined,
        params.outcome ? eq(usageLedger.outcome, params.outcome) : undefined,
        params.code ? eq(usageLedger.code, params.code) : undefined,
        attributed(params),
        params.shadow === undefined
          ? undefined
          : params.shadow
            ? isNotNull(usageLedger.shadowCode)
            : isNull(usageLedger.shadowCode),
      ),
    )
    .orderBy(desc(usageLedger.requestId))
    .limit(params.limit + 1);
  const page = toPage(
    rows.map((r) => ({ ...r, id: r.requestId })),
    params.limit,
  );
  return page;
}

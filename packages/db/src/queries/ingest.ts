import { type SQL, sql } from "drizzle-orm";
import type { PgColumn } from "drizzle-orm/pg-core";
import type { DbOrTx } from "../client.ts";
import { apiKeys } from "../schema/keys.ts";
import {
  keySpendDaily,
  type Outcome,
  usageDaily,
  usageHourly,
  usageLedger,
} from "../schema/usage.ts";

/**
 * One usage event as the proxy emits it: structurally `UsageEvent` of `@osm/jobs/usage-event`
 * (already validated there), restated here so that the database package does not depend on the
 * queue contract. Money is integer nano-USD in decimal text.
 */
export type IngestEvent = {
  requestId: string;
  projectId: string;
  keyId: string;
  model: string | null;
  provider: string | null;
  outcome: Outcome;
  code: string | null;
  status: number;
  stream: boolean;
  inputTokens: number;
  outputTokens: number;
  costNanos: string;
  reservedNanos: string;
  latencyMs: number;
  /** ISO instant; the event settles into this instant's UTC hour, day and budget window. */
  admittedAt: string;
  endUser?: string;
  tags?: string[];
  shadowDenial?: { code: string; message: string };
};

export type IngestResult = { inserted: number; duplicates: number };

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
// PostgreSQL takes at most 65,535 bind parameters per statement; the widest row here has 17.
const ROWS_PER_STATEMENT = 1000;

type Parsed = { event: IngestEvent; at: number; cost: bigint };

type Rollup = {
  projectId: string;
  keyId: string;
  model: string;
  bucketStart: Date;
  requests: number;
  errors: number;
  denied: number;
  codes: Record<string, number>;
  inputTokens: bigint;
  outputTokens: bigint;
  cost: bigint;
};

/**
 * Lands a batch of usage events exactly once, in one transaction: the ledger insert skips
 * request ids already present (a redelivered job, a producer retry), and only the rows this
 * transaction inserted feed the per-key daily spend, the hourly and daily rollups and the keys'
 * last use. Running it again with the same events changes nothing.
 *
 * Concurrent batches may share request ids and rollup rows. Every statement touches its rows in
 * one global order (request id; then primary key), and the phases run in the same order in every
 * transaction, so two batches wait on each other but never deadlock. Rollups add to the stored
 * row in ON CONFLICT DO UPDATE, which reads the latest committed version under the row lock:
 * concurrent additions sum instead of overwriting.
 */
export async function ingestUsageEvents(
  db: DbOrTx,
  events: readonly IngestEvent[],
): Promise<IngestResult> {
  if (events.length === 0) return { inserted: 0, duplicates: 0 };
  const unique = uniqueSorted(events);
  const inserted = await db.transaction(async (tx) => {
    const fresh = new Set<string>();
    for (const chunk of chunks(unique, ROWS_PER_STATEMENT)) {
      const rows = await tx
        .insert(usageLedger)
        .values(chunk.map(ledgerRow))
        .onConflictDoNothing({ target: usageLedger.requestId })
        .returning({ requestId: usageLedger.requestId });
      for (const row of rows) fresh.add(row.requestId);
    }
    const landed = unique.filter((p) => fresh.has(p.event.requestId));
    if (landed.length === 0) return 0;
    await addKeySpend(tx, landed);
    await addRollups(tx, usageHourly, landed, HOUR_MS);
    await addRollups(tx, usageDaily, landed, DAY_MS);
    await touchKeys(tx, landed);
    return landed.length;
  });
  return { inserted, duplicates: events.length - inserted };
}

/** The first copy of each request id wins; sorted so every batch inserts in the same order. */
function uniqueSorted(events: readonly IngestEvent[]): Parsed[] {
  const byId = new Map<string, Parsed>();
  for (const event of events) {
    if (byId.has(event.requestId)) continue;
    const at = Date.parse(event.admittedAt);
    if (Number.isNaN(at))
      throw new RangeError(`admittedAt of ${event.requestId} is not an instant`);
    byId.set(event.requestId, { event, at, cost: BigInt(event.costNanos) });
  }
  return [...byId.values()].sort((a, b) => compare(a.event.requestId, b.event.requestId));
}

function ledgerRow({ event, at, cost }: Parsed): typeof usageLedger.$inferInsert {
  return {
    requestId: event.requestId,
    projectId: event.projectId,
    keyId: event.keyId,
    model: event.model,
    provider: event.provider,
    outcome: event.outcome,
    code: event.code,
    status: event.status,
    stream: event.stream,
    inputTokens: event.inputTokens,
    outputTokens: event.outputTokens,
    cost,
    reserved: BigInt(event.reservedNanos),
    latencyMs: event.latencyMs,
    endUser: event.endUser ?? null,
    tags: event.tags ?? null,
    shadowCode: event.shadowDenial?.code ?? null,
    shadowMessage: event.shadowDenial?.message ?? null,
    admittedAt: new Date(at),
  };
}

const utcDay = (at: number) =>
  new Date(Math.floor(at / DAY_MS) * DAY_MS).toISOString().slice(0, 10);

async function addKeySpend(db: DbOrTx, landed: Parsed[]) {
  const totals = new Map<string, { keyId: string; day: string; cost: bigint; requests: number }>();
  for (const { event, at, cost } of landed) {
    const day = utcDay(at);
    const id = `${event.keyId}\u0000${day}`;
    let row = totals.get(id);
    if (!row) {
      row = { keyId: event.keyId, day, cost: 0n, requests: 0 };
      totals.set(id, row);
    }
    row.cost += cost;
    if (event.outcome === "allowed") row.requests += 1;
  }
  // A day of only free denials would add nothing: not worth a row lock.
  const rows = [...totals.values()]
    .filter((r) => r.cost !== 0n || r.requests !== 0)
    .sort((a, b) => compare(a.keyId, b.keyId) || compare(a.day, b.day));
  for (const chunk of chunks(rows, ROWS_PER_STATEMENT)) {
    await db
      .insert(keySpendDaily)
      .values(chunk)
      .onConflictDoUpdate({
        target: [keySpendDaily.keyId, keySpendDaily.day],
        set: {
          cost: sql`${keySpendDaily.cost} + excluded.cost`,
          requests: sql`${keySpendDaily.requests} + excluded.requests`,
        },
      });
  }
}

async function addRollups(
  db: DbOrTx,
  table: typeof usageHourly | typeof usageDaily,
  landed: Parsed[],
  bucketMs: number,
) {
  const totals = new Map<string, Rollup>();
  for (const { event, at, cost } of landed) {
    const model = event.model ?? "";
    const start = Math.floor(at / bucketMs) * bucketMs;
    const id = `${event.keyId}\u0000${model}\u0000${start}`;
    let row = totals.get(id);
    if (!row) {
      row = {
        projectId: event.projectId,
        keyId: event.keyId,
        model,
        bucketStart: new Date(start),
        requests: 0,
        errors: 0,
        denied: 0,
        codes: {},
        inputTokens: 0n,
        outputTokens: 0n,
        cost: 0n,
      };
      totals.set(id, row);
    }
    row.requests += 1;
    if (event.outcome === "error") row.errors += 1;
    if (event.outcome === "denied") row.denied += 1;
    if (event.outcome !== "allowed" && event.code !== null)
      row.codes[event.code] = (row.codes[event.code] ?? 0) + 1;
    row.inputTokens += BigInt(event.inputTokens);
    row.outputTokens += BigInt(event.outputTokens);
    row.cost += cost;
  }
  const rows = [...totals.values()].sort(
    (a, b) =>
      compare(a.keyId, b.keyId) ||
      compare(a.model, b.model) ||
      a.bucketStart.getTime() - b.bucketStart.getTime(),
  );
  for (const chunk of chunks(rows, ROWS_PER_STATEMENT)) {
    await db
      .insert(table)
      .values(chunk)
      .onConflictDoUpdate({
        target: [table.keyId, table.model, table.bucketStart],
        set: {
          requests: sql`${table.requests} + excluded.requests`,
          errors: sql`${table.errors} + excluded.errors`,
          denied: sql`${table.denied} + excluded.denied`,
          codes: mergeCodes(table.codes),
          inputTokens: sql`${table.inputTokens} + excluded.input_tokens`,
          outputTokens: sql`${table.outputTokens} + excluded.output_tokens`,
          cost: sql`${table.cost} + excluded.cost`,
        },
      });
  }
}

/** Sums two {code: count} objects key by key: `||` alone would let one side's count replace the other's. */
function mergeCodes(stored: PgColumn): SQL {
  return sql`case when excluded.codes = '{}'::jsonb then ${stored} else (
    select coalesce(jsonb_object_agg(code, total), '{}'::jsonb)
    from (
      select code, sum(n)::bigint as total
      from (
        select key as code, value::bigint as n from jsonb_each_text(${stored})
        union all
        select key, value::bigint from jsonb_each_text(excluded.codes)
      ) as both_sides
      group by code
    ) as merged
  ) end`;
}

/**
 * last_used_at only moves forward, whatever order batches land in. It is display state, not
 * cached policy, so the key's version is not bumped and no proxy drops its cache. Rows are
 * locked in id order (the CTE sorts before it locks) so that concurrent batches cannot deadlock
 * on them; a key already used later than this batch is not locked at all.
 */
async function touchKeys(db: DbOrTx, landed: Parsed[]) {
  const latest = new Map<string, number>();
  for (const { event, at } of landed) {
    const seen = latest.get(event.keyId);
    if (seen === undefined || at > seen) latest.set(event.keyId, at);
  }
  const values = [...latest.entries()]
    .sort(([a], [b]) => compare(a, b))
    .map(([id, at]) => sql`(${id}, ${new Date(at).toISOString()}::timestamptz)`);
  for (const chunk of chunks(values, ROWS_PER_STATEMENT)) {
    await db.execute(sql`
      with used (id, at) as (values ${sql.join(chunk, sql`, `)}),
      locked as materialized (
        select k.id, used.at
        from ${apiKeys} as k join used on used.id = k.id
        where k.last_used_at is null or k.last_used_at < used.at
        order by k.id
        for update of k
      )
      update ${apiKeys} set last_used_at = greatest(${apiKeys.lastUsedAt}, locked.at)
      from locked where ${apiKeys.id} = locked.id`);
  }
}

/** Code-unit order: any total order works, as long as every transaction uses the same one. */
const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function* chunks<T>(items: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

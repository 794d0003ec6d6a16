import { type SQL, sql } from "drizzle-orm";
import type { DbOrTx } from "../client.ts";
import type { Outcome } from "../schema/usage.ts";

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

/**
 * Lands a batch of usage events exactly once, in one statement (atomic by itself, so no
 * transaction and one round trip whatever the batch size): the ledger insert skips request ids
 * already present (a redelivered job, a producer retry), and only the rows it inserted feed the
 * per-key daily spend, the hourly and daily rollups and the keys' last use. Running it again with
 * the same events changes nothing.
 *
 * The events travel as one array per column (unnest), so the statement's text is the same for
 * every batch: PostgreSQL parses and plans it once per connection, and the worker builds no
 * per-row SQL. Concurrent batches may share request ids and rollup rows. Every part touches its
 * rows in one global order (request id; then primary key, in byte order), and every batch runs
 * the same plan, so two batches wait on each other but never deadlock. Rollups add to the stored
 * row in ON CONFLICT DO UPDATE, which reads the latest committed version under the row lock:
 * concurrent additions sum instead of overwriting.
 */
export async function ingestUsageEvents(
  db: DbOrTx,
  events: readonly IngestEvent[],
): Promise<IngestResult> {
  if (events.length === 0) return { inserted: 0, duplicates: 0 };
  const unique = uniqueEvents(events);
  const rows = await db.execute<{ inserted: number }>(ingestStatement(columnsOf(unique)));
  const inserted = Number(rows[0]?.inserted ?? 0);
  return { inserted, duplicates: events.length - inserted };
}

/** The first copy of each request id wins: one statement may not insert a request id twice. */
function uniqueEvents(events: readonly IngestEvent[]): IngestEvent[] {
  const byId = new Map<string, IngestEvent>();
  for (const event of events) {
    if (byId.has(event.requestId)) continue;
    if (Number.isNaN(Date.parse(event.admittedAt)))
      throw new RangeError(`admittedAt of ${event.requestId} is not an instant`);
    byId.set(event.requestId, event);
  }
  return [...byId.values()];
}

/**
 * A PostgreSQL array literal, sent as one text parameter and cast in the statement: postgres.js
 * would infer each array's element type from its first value, which a null or a boolean defeats.
 */
function arrayLiteral(values: readonly (string | number | boolean | null)[]): string {
  const items = values.map((v) =>
    v === null ? "NULL" : `"${String(v).replace(/[\\"]/g, (c) => `\\${c}`)}"`,
  );
  return `{${items.join(",")}}`;
}

function columnsOf(events: readonly IngestEvent[]) {
  const column = (pick: (e: IngestEvent) => string | number | boolean | null) =>
    arrayLiteral(events.map(pick));
  return {
    requestId: column((e) => e.requestId),
    projectId: column((e) => e.projectId),
    keyId: column((e) => e.keyId),
    model: column((e) => e.model),
    provider: column((e) => e.provider),
    outcome: column((e) => e.outcome),
    code: column((e) => e.code),
    status: column((e) => e.status),
    stream: column((e) => e.stream),
    inputTokens: column((e) => e.inputTokens),
    outputTokens: column((e) => e.outputTokens),
    cost: column((e) => e.costNanos),
    reserved: column((e) => e.reservedNanos),
    latencyMs: column((e) => e.latencyMs),
    endUser: column((e) => e.endUser ?? null),
    // An array per row would make a ragged two-dimensional array: JSON text per row instead.
    tags: column((e) => (e.tags ? JSON.stringify(e.tags) : null)),
    shadowCode: column((e) => e.shadowDenial?.code ?? null),
    shadowMessage: column((e) => e.shadowDenial?.message ?? null),
    admittedAt: column((e) => e.admittedAt),
  };
}

const bucket = (unit: "hour" | "day") => sql.raw(`date_trunc('${unit}', admitted_at, 'UTC')`);

function rollup(table: "usage_hourly" | "usage_daily", unit: "hour" | "day"): SQL {
  const t = sql.raw(table);
  // Two levels: counts per code first, so that the codes object is one jsonb_object_agg.
  return sql`insert into ${t} as r (project_id, key_id, model, bucket_start, requests, errors,
      denied, codes, input_tokens, output_tokens, cost)
    select min(project_id), key_id, model, bucket_start, sum(requests), sum(errors), sum(denied),
      coalesce(jsonb_object_agg(code, requests) filter (where code is not null), '{}'::jsonb),
      sum(input_tokens), sum(output_tokens), sum(cost)
    from (
      select min(project_id) as project_id, key_id, coalesce(model, '') as model,
        ${bucket(unit)} as bucket_start,
        case when outcome <> 'allowed' then code end as code,
        count(*) as requests,
        count(*) filter (where outcome = 'error') as errors,
        count(*) filter (where outcome = 'denied') as denied,
        sum(input_tokens) as input_tokens, sum(output_tokens) as output_tokens, sum(cost) as cost
      from inserted
      group by 2, 3, 4, 5
    ) as per_code
    group by key_id, model, bucket_start
    order by key_id collate "C", model collate "C", bucket_start
    on conflict (key_id, model, bucket_start) do update set
      requests = r.requests + excluded.requests,
      errors = r.errors + excluded.errors,
      denied = r.denied + excluded.denied,
      codes = ${mergeCodes(sql.raw("r.codes"))},
      input_tokens = r.input_tokens + excluded.input_tokens,
      output_tokens = r.output_tokens + excluded.output_tokens,
      cost = r.cost + excluded.cost`;
}

/**
 * last_used_at only moves forward, whatever order batches land in. It is display state, not
 * cached policy, so the key's version is not bumped and no proxy drops its cache. Keys are
 * locked in id order (the CTE sorts before it locks); a key already used later than this batch
 * is not locked at all. A day of only free denials adds nothing to the spend: not worth a lock.
 */
function ingestStatement(c: ReturnType<typeof columnsOf>): SQL {
  return sql`
    with input as (
      select * from unnest(
        ${c.requestId}::text[], ${c.projectId}::text[], ${c.keyId}::text[], ${c.model}::text[],
        ${c.provider}::text[], ${c.outcome}::text[], ${c.code}::text[], ${c.status}::int[],
        ${c.stream}::bool[], ${c.inputTokens}::int[], ${c.outputTokens}::int[],
        ${c.cost}::bigint[], ${c.reserved}::bigint[], ${c.latencyMs}::int[], ${c.endUser}::text[],
        ${c.tags}::jsonb[], ${c.shadowCode}::text[], ${c.shadowMessage}::text[],
        ${c.admittedAt}::timestamptz[]
      ) as i(request_id, project_id, key_id, model, provider, outcome, code, status, stream,
        input_tokens, output_tokens, cost, reserved, latency_ms, end_user, tags, shadow_code,
        shadow_message, admitted_at)
    ),
    inserted as (
      insert into usage_ledger (request_id, project_id, key_id, model, provider, outcome, code,
        status, stream, input_tokens, output_tokens, cost, reserved, latency_ms, end_user, tags,
        shadow_code, shadow_message, admitted_at)
      select request_id, project_id, key_id, model, provider, outcome, code, status, stream,
        input_tokens, output_tokens, cost, reserved, latency_ms, end_user,
        case when tags is null then null
          else array(select jsonb_array_elements_text(tags)) end,
        shadow_code, shadow_message, admitted_at
      from input
      order by request_id collate "C"
      on conflict (request_id) do nothing
      returning project_id, key_id, model, outcome, code, input_tokens, output_tokens, cost,
        admitted_at
    ),
    spend as (
      insert into key_spend_daily as s (key_id, day, cost, requests)
      select key_id, (admitted_at at time zone 'UTC')::date as day, sum(cost),
        count(*) filter (where outcome = 'allowed')
      from inserted
      group by 1, 2
      having sum(cost) <> 0 or count(*) filter (where outcome = 'allowed') <> 0
      order by key_id collate "C", day
      on conflict (key_id, day) do update set
        cost = s.cost + excluded.cost, requests = s.requests + excluded.requests
    ),
    hourly as (${rollup("usage_hourly", "hour")}),
    daily as (${rollup("usage_daily", "day")}),
    used as (select key_id, max(admitted_at) as at from inserted group by key_id),
    locked as materialized (
      select k.id, used.at
      from api_keys as k join used on used.key_id = k.id
      where k.last_used_at is null or k.last_used_at < used.at
      order by k.id collate "C"
      for update of k
    ),
    touched as (
      update api_keys as k set last_used_at = greatest(k.last_used_at, locked.at)
      from locked where k.id = locked.id
    )
    select count(*)::int as inserted from inserted`;
}

/** Sums two {code: count} objects key by key: `||` alone would let one side's count replace the other's. */
function mergeCodes(stored: SQL): SQL {
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

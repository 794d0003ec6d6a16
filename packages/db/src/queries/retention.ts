import { windowStart } from "@osm/policy/windows";
import { sql } from "drizzle-orm";
import type { DbOrTx } from "../client.ts";

const DAY_MS = 86_400_000;

/** Rows per DELETE: each statement commits on its own, so no lock is held for long. */
const CHUNK_ROWS = 10_000;

/**
 * The first instant retention keeps: UTC midnight of `now`'s day minus `retentionDays` days.
 * Today and the `retentionDays` whole days before it are kept; everything earlier goes.
 */
export function ledgerRetentionCutoff(now: Date, retentionDays: number): Date {
  if (!Number.isInteger(retentionDays) || retentionDays < 1)
    throw new RangeError(`retentionDays must be an integer ≥ 1, got ${retentionDays}`);
  const time = now.getTime();
  if (Number.isNaN(time)) throw new RangeError("Invalid Date");
  return new Date(Math.floor(time / DAY_MS) * DAY_MS - retentionDays * DAY_MS);
}

/**
 * Drops the ledger rows of whole UTC days before the retention cutoff, a bounded chunk per
 * statement (autocommit, rows taken with SKIP LOCKED so that two passes share the work instead
 * of waiting on each other). Rollups (usage_hourly, usage_daily, key_spend_daily) are never
 * touched: they are the history once the ledger rows are gone. Returns the rows deleted.
 *
 * One exception keeps budgets exact: settledSpend sums the ledger, not the daily totals, from
 * a key's spend reset when that reset lies inside the key's current window (an all-time
 * budget's window never ends), so those rows stay until the window moves past the reset.
 *
 * Rows are found per project through the (project_id, admitted_at) index, the projects
 * themselves by a loose index scan of the same index, and deleted by ctid (a TID scan; ledger
 * rows are never updated, and the rows are locked from the select to the delete): no pass
 * reads the whole ledger. `request_id in (…)` would be planned as a hash join over a full scan.
 */
export async function dropExpiredLedgerDays(
  db: DbOrTx,
  now: Date,
  retentionDays: number,
  options: { chunkRows?: number } = {},
): Promise<number> {
  const cutoff = ledgerRetentionCutoff(now, retentionDays).toISOString();
  const chunkRows = options.chunkRows ?? CHUNK_ROWS;
  const day = windowStart("daily", now).toISOString();
  const week = windowStart("weekly", now).toISOString();
  const month = windowStart("monthly", now).toISOString();

  const projects = await db.execute<{ id: string }>(sql`
    with recursive projects (id) as (
      (select project_id from usage_ledger order by project_id limit 1)
      union all
      select (
        select l.project_id from usage_ledger as l
        where l.project_id > projects.id order by l.project_id limit 1
      )
      from projects where projects.id is not null
    )
    select id from projects
    where id is not null and exists (
      select 1 from usage_ledger as l
      where l.project_id = projects.id and l.admitted_at < ${cutoff}::timestamptz
    )`);

  let dropped = 0;
  for (const { id } of projects) {
    for (;;) {
      const result = await db.execute(sql`
        delete from usage_ledger where ctid = any(array(
          select l.ctid from usage_ledger as l
          where l.project_id = ${id} and l.admitted_at < ${cutoff}::timestamptz
            and not exists (
              select 1 from api_keys as k
              where k.id = l.key_id and k.spend_reset_at is not null
                and l.admitted_at >= k.spend_reset_at
                and k.spend_reset_at >= case k.budget_period
                  when 'daily' then ${day}::timestamptz
                  when 'weekly' then ${week}::timestamptz
                  when 'monthly' then ${month}::timestamptz
                  else '-infinity'::timestamptz end
            )
          limit ${chunkRows}
          for update of l skip locked
        ))`);
      dropped += result.count;
      if (result.count < chunkRows) break;
    }
  }
  return dropped;
}

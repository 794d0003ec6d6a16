import { sql } from "drizzle-orm";
import type { DbOrTx } from "../client.ts";

/**
 * A fresh number from the instance-wide change sequence, for changes that leave no row to
 * carry one (deletions): the invalidation still outranks every version a proxy has seen.
 */
export async function nextChangeVersion(db: DbOrTx): Promise<number> {
  const rows = await db.execute<{ v: string }>(sql`select nextval('change_version')::text as v`);
  return Number(rows[0]!.v);
}

import { newId } from "@osm/keys/ids";
import type { KeyStatus } from "@osm/policy/key-status";
import type { SpendWindow } from "@osm/policy/windows";
import {
  and,
  asc,
  desc,
  eq,
  gt,
  gte,
  ilike,
  inArray,
  isNotNull,
  isNull,
  lt,
  lte,
  or,
  type SQL,
  sql,
} from "drizzle-orm";
import type { DbOrTx } from "../client.ts";
import type { ActorType } from "../schema/audit.ts";
import { nextVersion } from "../schema/columns.ts";
import { type ApiKeyRow, apiKeys, keyRotations } from "../schema/keys.ts";
import { keySpendDaily, usageLedger } from "../schema/usage.ts";
import { type PageParams, toPage } from "./pagination.ts";

// The SQL twin of keyStatus() for the list filter: each status excludes the ones above it.
function statusCondition(status: KeyStatus, now: Date): SQL | undefined {
  const notRevoked = isNull(apiKeys.revokedAt);
  const notExpired = or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, now));
  switch (status) {
    case "revoked":
      return isNotNull(apiKeys.revokedAt);
    case "expired":
      return and(notRevoked, lte(apiKeys.expiresAt, now));
    case "inactive":
      return and(notRevoked, notExpired, eq(apiKeys.enabled, false));
    case "limit_reached":
      return and(notRevoked, notExpired, eq(apiKeys.enabled, true), eq(apiKeys.limitReached, true));
    case "active":
      return and(
        notRevoked,
        notExpired,
        eq(apiKeys.enabled, true),
        eq(apiKeys.limitReached, false),
      );
  }
}

export type NewKey = Pick<
  ApiKeyRow,
  | "projectId"
  | "label"
  | "secretHash"
  | "display"
  | "spendLimit"
  | "budgetPeriod"
  | "policy"
  | "expiresAt"
  | "createdBy"
>;

export async function insertKey(db: DbOrTx, values: NewKey) {
  const [row] = await db
    .insert(apiKeys)
    .values({ id: newId("key"), ...values })
    .returning();
  return row!;
}

export async function findKey(db: DbOrTx, id: string) {
  const [row] = await db.select().from(apiKeys).where(eq(apiKeys.id, id));
  return row;
}

/** Row lock for read-modify-write changes (rotation, limit changes). */
export async function findKeyForUpdate(db: DbOrTx, id: string) {
  const [row] = await db.select().from(apiKeys).where(eq(apiKeys.id, id)).for("update");
  return row;
}

const escapeLike = (q: string) => q.replace(/[\\%_]/g, (c) => `\\${c}`);

export const keySorts = ["created", "spend", "lastUsed", "expiry"] as const;
export type KeySort = (typeof keySorts)[number];
export const limitStates = ["none", "limited", "near", "reached"] as const;
export type LimitState = (typeof limitStates)[number];

// Settled spend of the key's current window from the daily totals (a spend reset inside the
// window is not subtracted: this only orders and filters lists, the shown figure is exact).
const windowSpend = sql<string>`coalesce((select sum(d.cost) from ${keySpendDaily} d where d.key_id = ${apiKeys.id} and d.day >= case ${apiKeys.budgetPeriod}
  when 'daily' then (now() at time zone 'UTC')::date
  when 'weekly' then date_trunc('week', now() at time zone 'UTC')::date
  when 'monthly' then date_trunc('month', now() at time zone 'UTC')::date
  else '-infinity'::date end), 0)`;

function limitCondition(state: LimitState): SQL | undefined {
  switch (state) {
    case "none":
      return isNull(apiKeys.spendLimit);
    case "limited":
      return isNotNull(apiKeys.spendLimit);
    case "reached":
      return or(
        eq(apiKeys.limitReached, true),
        and(isNotNull(apiKeys.spendLimit), sql`${windowSpend} >= ${apiKeys.spendLimit}`),
      );
    case "near":
      return and(
        isNotNull(apiKeys.spendLimit),
        sql`${windowSpend} * 5 >= ${apiKeys.spendLimit} * 4`,
      );
  }
}

function sortOrder(sort: KeySort): SQL[] {
  switch (sort) {
    case "spend":
      return [sql`${windowSpend} desc`, desc(apiKeys.id)];
    case "lastUsed":
      return [sql`${apiKeys.lastUsedAt} desc nulls last`, desc(apiKeys.id)];
    case "expiry":
      return [sql`${apiKeys.expiresAt} asc nulls last`, desc(apiKeys.id)];
    case "created":
      return [desc(apiKeys.id)];
  }
}

/**
 * A page of a project's keys. Newest first pages by id (keyset); the other orders depend on
 * values that move (spend, last use), so they page by offset ("o:<n>" cursors).
 */
export async function listKeys(
  db: DbOrTx,
  params: PageParams & {
    projectId: string;
    status?: KeyStatus;
    limitState?: LimitState;
    q?: string;
    sort?: KeySort;
    now: Date;
  },
) {
  const sort = params.sort ?? "created";
  const offset = params.cursor?.startsWith("o:") ? Number(params.cursor.slice(2)) || 0 : 0;
  const keyset = sort === "created" && params.cursor && !params.cursor.startsWith("o:");
  const q = params.q?.replace(/^osm_[^…]*…/, "");
  const rows = await db
    .select()
    .from(apiKeys)
    .where(
      and(
        eq(apiKeys.projectId, params.projectId),
        keyset ? lt(apiKeys.id, params.cursor!) : undefined,
        params.status ? statusCondition(params.status, params.now) : undefined,
        params.limitState ? limitCondition(params.limitState) : undefined,
        q
          ? or(
              ilike(apiKeys.label, `%${escapeLike(q)}%`),
              eq(apiKeys.id, q),
              // The last four characters of the secret, as the display form shows them.
              ilike(apiKeys.display, `%${escapeLike(q)}`),
            )
          : undefined,
      ),
    )
    .orderBy(...sortOrder(sort))
    .offset(offset)
    .limit(params.limit + 1);
  if (sort === "created" && !params.cursor?.startsWith("o:")) return toPage(rows, params.limit);
  const items = rows.slice(0, params.limit);
  return {
    items,
    nextCursor: rows.length > params.limit ? `o:${offset + params.limit}` : null,
  };
}

export type KeyChanges = Partial<
  Pick<
    ApiKeyRow,
    | "label"
    | "spendLimit"
    | "budgetPeriod"
    | "policy"
    | "expiresAt"
    | "enabled"
    | "limitReached"
    | "limitWindowStart"
    | "revokedAt"
    | "secretHash"
    | "display"
    | "previousSecretHash"
    | "graceUntil"
    | "spendResetAt"
  >
>;

/** Every change bumps the key's version: proxies drop cached copies older than it. */
export async function updateKey(db: DbOrTx, id: string, changes: KeyChanges, now: Date) {
  const [row] = await db
    .update(apiKeys)
    .set({ ...changes, updatedAt: now, version: nextVersion })
    .where(eq(apiKeys.id, id))
    .returning();
  return row;
}

export async function findRotation(db: DbOrTx, keyId: string, idempotencyKey: string, since: Date) {
  const [row] = await db
    .select()
    .from(keyRotations)
    .where(
      and(
        eq(keyRotations.keyId, keyId),
        eq(keyRotations.idempotencyKey, idempotencyKey),
        gte(keyRotations.createdAt, since),
      ),
    );
  return row;
}

/** How long a rotation can be replayed; the worker deletes its saved secret after that. */
export const rotationReplayWindowMs = 24 * 3600 * 1000;

export async function saveRotation(
  db: DbOrTx,
  rotation: {
    keyId: string;
    idempotencyKey: string;
    sealedSecret: string;
    actor: { type: ActorType; id: string | null };
    now: Date;
  },
) {
  const values = {
    sealedSecret: rotation.sealedSecret,
    actorType: rotation.actor.type,
    actorId: rotation.actor.id,
    createdAt: rotation.now,
  };
  // A stale row with the same idempotency key (past the replay window) is replaced.
  await db
    .insert(keyRotations)
    .values({ keyId: rotation.keyId, idempotencyKey: rotation.idempotencyKey, ...values })
    .onConflictDoUpdate({ target: [keyRotations.keyId, keyRotations.idempotencyKey], set: values });
}

/** Deletes the saved secrets of rotations past the replay window; returns how many went. */
export async function deleteExpiredRotations(db: DbOrTx, now: Date): Promise<number> {
  const rows = await db
    .delete(keyRotations)
    .where(lt(keyRotations.createdAt, new Date(now.getTime() - rotationReplayWindowMs)))
    .returning({ keyId: keyRotations.keyId });
  return rows.length;
}

const day = (d: Date) => d.toISOString().slice(0, 10);

/**
 * Settled spend of each key in its window, from PostgreSQL. Whole days come from the daily
 * totals; after a spend reset inside the window, the ledger since the reset is summed instead.
 */
export async function settledSpend(
  db: DbOrTx,
  windows: Map<string, SpendWindow>,
): Promise<Map<string, { window: bigint; lifetime: bigint }>> {
  const result = new Map<string, { window: bigint; lifetime: bigint }>();
  const ids = [...windows.keys()];
  if (ids.length === 0) return result;
  const daily = await db
    .select({ keyId: keySpendDaily.keyId, day: keySpendDaily.day, cost: keySpendDaily.cost })
    .from(keySpendDaily)
    .where(inArray(keySpendDaily.keyId, ids));
  for (const id of ids) result.set(id, { window: 0n, lifetime: 0n });
  for (const row of daily) {
    const entry = result.get(row.keyId)!;
    const w = windows.get(row.keyId)!;
    entry.lifetime += row.cost;
    if (!w.resetAt && row.day >= day(w.start) && (!w.end || row.day < day(w.end)))
      entry.window += row.cost;
  }
  const reset = ids.filter((id) => windows.get(id)!.resetAt);
  for (const id of reset) {
    const w = windows.get(id)!;
    const since = w.resetAt!; // callers pass a reset only when it lies inside the window
    const [row] = await db
      .select({ total: sql<string>`coalesce(sum(${usageLedger.cost}), 0)` })
      .from(usageLedger)
      .where(
        and(
          eq(usageLedger.keyId, id),
          gte(usageLedger.admittedAt, since),
          w.end ? lt(usageLedger.admittedAt, w.end) : undefined,
        ),
      );
    result.get(id)!.window = BigInt(row?.total ?? "0");
  }
  return result;
}

/** Live keys with a spending limit, by id, a page at a time (for reconciliation). */
export async function keysWithLimits(db: DbOrTx, afterId: string | undefined, limit: number) {
  return db
    .select()
    .from(apiKeys)
    .where(
      and(
        isNotNull(apiKeys.spendLimit),
        isNull(apiKeys.revokedAt),
        afterId ? gt(apiKeys.id, afterId) : undefined,
      ),
    )
    .orderBy(asc(apiKeys.id))
    .limit(limit);
}

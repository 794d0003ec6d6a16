import { spendWindow } from "@osm/policy/windows";
import { and, eq, inArray, isNotNull, isNull, lte, or } from "drizzle-orm";
import type { DbOrTx } from "../client.ts";
import { nextVersion } from "../schema/columns.ts";
import { type ApiKeyRow, apiKeys } from "../schema/keys.ts";
import { windowResets } from "../schema/usage.ts";
import { recordAudit } from "./audit.ts";
import { findKey, settledSpend } from "./keys.ts";

const system = { type: "system" as const, id: null };

/**
 * Flags a key that hit its limit in the window of `at`. Compare-and-set on the limit, period and
 * spend reset the decision was computed against, and on the window still being current: a late
 * event never re-flips a key after a raise, a reset or a new window. Returns the new version.
 */
export async function flagLimitReached(
  db: DbOrTx,
  /** refusedAtLimit: the limit a refusal for the limit was decided against, if there was one. */
  params: {
    keyId: string;
    at: Date;
    now: Date;
    refusedAtLimit: bigint | null;
    /** The key's row when the caller just read it (flaggableKeys): saves reading it again. */
    loaded?: ApiKeyRow;
  },
): Promise<{ version: number; projectId: string } | null> {
  const key = params.loaded ?? (await findKey(db, params.keyId));
  if (!key || key.spendLimit === null || key.limitReached) return null;
  const eventWindow = spendWindow(key, params.at);
  const currentWindow = spendWindow(key, params.now);
  if (eventWindow.start.getTime() !== currentWindow.start.getTime()) return null;
  if ((eventWindow.resetAt?.getTime() ?? 0) !== (currentWindow.resetAt?.getTime() ?? 0))
    return null;
  // A refusal counts only against the limit it was decided on: a raise since then wins.
  if (params.refusedAtLimit === null || params.refusedAtLimit !== key.spendLimit) {
    const spent =
      (await settledSpend(db, new Map([[key.id, currentWindow]]))).get(key.id)?.window ?? 0n;
    if (spent < key.spendLimit) return null;
  }
  return db.transaction(async (tx) => {
    const [row] = await tx
      .update(apiKeys)
      .set({
        limitReached: true,
        limitWindowStart: currentWindow.start,
        version: nextVersion,
        updatedAt: params.now,
      })
      .where(
        and(
          eq(apiKeys.id, key.id),
          eq(apiKeys.limitReached, false),
          eq(apiKeys.spendLimit, key.spendLimit!),
          eq(apiKeys.budgetPeriod, key.budgetPeriod),
          key.spendResetAt
            ? eq(apiKeys.spendResetAt, key.spendResetAt)
            : isNull(apiKeys.spendResetAt),
        ),
      )
      .returning({ version: apiKeys.version });
    if (!row) return null;
    await recordAudit(tx, {
      projectId: key.projectId,
      actor: system,
      action: "key.limit_reached",
      targetType: "key",
      targetId: key.id,
      data: {
        windowStart: currentWindow.start.toISOString(),
        limitNanos: key.spendLimit!.toString(),
      },
    });
    return { version: row.version, projectId: key.projectId };
  });
}

/**
 * Window housekeeping: clears `limitReached` on keys whose flag belongs to a window that has
 * ended. Exactly once per key and window, however many workers run it: the pass is recorded
 * in window_resets first. Never touches `enabled`. Returns what it cleared.
 */
export async function resetDueWindows(
  db: DbOrTx,
  now: Date,
): Promise<{ keyId: string; version: number }[]> {
  const flagged = await db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.limitReached, true), isNull(apiKeys.revokedAt)));
  const cleared: { keyId: string; version: number }[] = [];
  for (const key of flagged) {
    const window = spendWindow(key, now);
    const flaggedIn = key.limitWindowStart;
    if (flaggedIn && flaggedIn.getTime() >= window.start.getTime()) continue;
    const row = await db.transaction(async (tx) => {
      const [pass] = await tx
        .insert(windowResets)
        .values({ keyId: key.id, windowStart: window.start })
        .onConflictDoNothing()
        .returning();
      if (!pass) return null;
      const [updated] = await tx
        .update(apiKeys)
        .set({ limitReached: false, limitWindowStart: null, version: nextVersion, updatedAt: now })
        .where(
          and(
            eq(apiKeys.id, key.id),
            eq(apiKeys.limitReached, true),
            flaggedIn ? eq(apiKeys.limitWindowStart, flaggedIn) : isNull(apiKeys.limitWindowStart),
          ),
        )
        .returning({ version: apiKeys.version });
      if (!updated) return null;
      await recordAudit(tx, {
        projectId: key.projectId,
        actor: system,
        action: "key.window_reset",
        targetType: "key",
        targetId: key.id,
        data: { windowStart: window.start.toISOString() },
      });
      return updated;
    });
    if (row) cleared.push({ keyId: key.id, version: row.version });
  }
  return cleared;
}

/** Ends rotation graces that are over: the previous secret's hash is cleared for good. */
export async function clearEndedGraces(
  db: DbOrTx,
  now: Date,
): Promise<{ keyId: string; version: number }[]> {
  const rows = await db
    .update(apiKeys)
    .set({ previousSecretHash: null, graceUntil: null, version: nextVersion, updatedAt: now })
    .where(
      and(
        isNotNull(apiKeys.previousSecretHash),
        or(isNull(apiKeys.graceUntil), lte(apiKeys.graceUntil, now)),
      ),
    )
    .returning({ keyId: apiKeys.id, version: apiKeys.version });
  return rows;
}

/** Of these keys, the ones with a limit that are not flagged yet (their rows). */
export async function flaggableKeys(db: DbOrTx, keyIds: string[]): Promise<ApiKeyRow[]> {
  return db
    .select()
    .from(apiKeys)
    .where(
      and(
        inArray(apiKeys.id, keyIds),
        isNotNull(apiKeys.spendLimit),
        eq(apiKeys.limitReached, false),
      ),
    );
}

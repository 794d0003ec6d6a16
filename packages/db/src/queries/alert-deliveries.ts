import { newId } from "@osm/keys/ids";
import { and, eq, inArray, isNotNull, isNull, sql } from "drizzle-orm";
import type { DbOrTx } from "../client.ts";
import { alertDeliveries, alertSettings } from "../schema/alerts.ts";
import { apiKeys } from "../schema/keys.ts";

/** The budget thresholds an alert is sent for, in percent of the key's spending limit. */
export const alertThresholds = [50, 80, 100] as const;
export type AlertThreshold = (typeof alertThresholds)[number];

/** What a budget alert's webhook body carries (amounts are USD decimal strings). */
export type BudgetAlertPayload = {
  id: string;
  type: "budget.threshold";
  projectId: string;
  keyId: string;
  threshold: AlertThreshold;
  spentUsd: string;
  limitUsd: string;
  windowStart: string;
  windowEnd: string | null;
};

/**
 * The keys among `keyIds` an alert can be sent for: live, with a spending limit, in a project
 * that has a webhook. Keys of projects without alert settings never reach the spend query.
 */
export async function alertCandidates(db: DbOrTx, keyIds: string[]) {
  if (keyIds.length === 0) return [];
  const rows = await db
    .select({ key: apiKeys })
    .from(apiKeys)
    .innerJoin(alertSettings, eq(alertSettings.projectId, apiKeys.projectId))
    .where(
      and(inArray(apiKeys.id, keyIds), isNotNull(apiKeys.spendLimit), isNull(apiKeys.revokedAt)),
    );
  return rows.map((r) => r.key);
}

/** The deliveries already recorded for these keys in these windows (any status). */
export async function deliveriesInWindows(
  db: DbOrTx,
  windows: { keyId: string; windowStart: Date }[],
) {
  if (windows.length === 0) return [];
  const rows = await db
    .select({
      id: alertDeliveries.id,
      keyId: alertDeliveries.keyId,
      threshold: alertDeliveries.threshold,
      windowStart: alertDeliveries.windowStart,
      status: alertDeliveries.status,
    })
    .from(alertDeliveries)
    .where(
      and(
        inArray(
          alertDeliveries.keyId,
          windows.map((w) => w.keyId),
        ),
        inArray(
          alertDeliveries.windowStart,
          windows.map((w) => w.windowStart),
        ),
      ),
    );
  // The IN lists cross keys with windows: keep each key's own window only.
  const wanted = new Map(windows.map((w) => [w.keyId, w.windowStart.getTime()]));
  return rows.filter((r) => wanted.get(r.keyId) === r.windowStart.getTime());
}

/**
 * Records that a key crossed a threshold in a window. Exactly one row per (key, threshold,
 * window), however many workers race: returns the new row's id, or null if it existed already.
 */
export async function recordThresholdCrossed(
  db: DbOrTx,
  values: {
    projectId: string;
    keyId: string;
    threshold: AlertThreshold;
    windowStart: Date;
    payload: (id: string) => BudgetAlertPayload;
  },
): Promise<string | null> {
  const id = newId("delivery");
  const [row] = await db
    .insert(alertDeliveries)
    .values({
      id,
      projectId: values.projectId,
      keyId: values.keyId,
      threshold: values.threshold,
      windowStart: values.windowStart,
      status: "pending",
      payload: values.payload(id),
    })
    .onConflictDoNothing({
      target: [alertDeliveries.keyId, alertDeliveries.threshold, alertDeliveries.windowStart],
    })
    .returning({ id: alertDeliveries.id });
  return row?.id ?? null;
}

/** A delivery with the webhook it goes to (the sealed secret is for the worker alone). */
export async function findDeliveryWithSettings(db: DbOrTx, id: string) {
  const [row] = await db
    .select({
      id: alertDeliveries.id,
      projectId: alertDeliveries.projectId,
      status: alertDeliveries.status,
      attempts: alertDeliveries.attempts,
      payload: alertDeliveries.payload,
      url: alertSettings.url,
      sealedSecret: alertSettings.sealedSecret,
    })
    .from(alertDeliveries)
    .leftJoin(alertSettings, eq(alertSettings.projectId, alertDeliveries.projectId))
    .where(eq(alertDeliveries.id, id));
  return row;
}

export type DeliveryAttempt =
  | { ok: true; responseStatus: number; at: Date }
  | { ok: false; responseStatus: number | null; error: string; final: boolean };

/**
 * Records one attempt of a pending delivery: delivered on success; on failure the error, and
 * `failed` once no attempt is left. Returns false if the delivery was no longer pending.
 */
export async function recordDeliveryAttempt(
  db: DbOrTx,
  id: string,
  attempt: DeliveryAttempt,
): Promise<boolean> {
  const rows = await db
    .update(alertDeliveries)
    .set(
      attempt.ok
        ? {
            status: "delivered",
            attempts: sql`${alertDeliveries.attempts} + 1`,
            responseStatus: attempt.responseStatus,
            lastError: null,
            deliveredAt: attempt.at,
          }
        : {
            status: attempt.final ? "failed" : "pending",
            attempts: sql`${alertDeliveries.attempts} + 1`,
            responseStatus: attempt.responseStatus,
            lastError: attempt.error.slice(0, 500),
          },
    )
    .where(and(eq(alertDeliveries.id, id), eq(alertDeliveries.status, "pending")))
    .returning({ id: alertDeliveries.id });
  return rows.length > 0;
}

import { and, desc, eq, lt } from "drizzle-orm";
import type { DbOrTx } from "../client.ts";
import { alertDeliveries, alertSettings } from "../schema/alerts.ts";
import { type PageParams, toPage } from "./pagination.ts";

export async function getAlertSettings(db: DbOrTx, projectId: string) {
  const [row] = await db.select().from(alertSettings).where(eq(alertSettings.projectId, projectId));
  return row;
}

export async function upsertAlertSettings(
  db: DbOrTx,
  projectId: string,
  url: string,
  sealedSecret: string,
  now: Date,
) {
  await db
    .insert(alertSettings)
    .values({ projectId, url, sealedSecret })
    .onConflictDoUpdate({
      target: alertSettings.projectId,
      set: { url, sealedSecret, updatedAt: now },
    });
}

export async function listDeliveries(db: DbOrTx, projectId: string, page: PageParams) {
  const rows = await db
    .select({
      id: alertDeliveries.id,
      keyId: alertDeliveries.keyId,
      threshold: alertDeliveries.threshold,
      windowStart: alertDeliveries.windowStart,
      status: alertDeliveries.status,
      attempts: alertDeliveries.attempts,
      responseStatus: alertDeliveries.responseStatus,
      lastError: alertDeliveries.lastError,
      deliveredAt: alertDeliveries.deliveredAt,
      createdAt: alertDeliveries.createdAt,
    })
    .from(alertDeliveries)
    .where(
      and(
        eq(alertDeliveries.projectId, projectId),
        page.cursor ? lt(alertDeliveries.id, page.cursor) : undefined,
      ),
    )
    .orderBy(desc(alertDeliveries.id))
    .limit(page.limit + 1);
  return toPage(rows, page.limit);
}

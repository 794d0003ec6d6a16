import { and, eq, gt, or } from "drizzle-orm";
import type { DbOrTx } from "../client.ts";
import { models, providers } from "../schema/catalog.ts";
import { apiKeys } from "../schema/keys.ts";

/** The key a secret hash belongs to: its current secret, or the previous one during grace. */
export async function findKeyBySecretHash(db: DbOrTx, secretHash: string, now: Date) {
  const [row] = await db
    .select()
    .from(apiKeys)
    .where(
      or(
        eq(apiKeys.secretHash, secretHash),
        and(eq(apiKeys.previousSecretHash, secretHash), gt(apiKeys.graceUntil, now)),
      ),
    )
    .limit(1);
  return row;
}

export async function findKeyById(db: DbOrTx, id: string) {
  const [row] = await db.select().from(apiKeys).where(eq(apiKeys.id, id));
  return row;
}

/** A project's whole catalog: small (tens of rows), cached by the proxy as one unit. */
export async function loadProjectCatalog(db: DbOrTx, projectId: string) {
  const [modelRows, providerRows] = await Promise.all([
    db.select().from(models).where(eq(models.projectId, projectId)),
    db.select().from(providers).where(eq(providers.projectId, projectId)),
  ]);
  return { models: modelRows, providers: providerRows };
}

/** Which project a catalog row belongs to (for invalidations of rows not cached yet). */
export async function findCatalogRowProject(db: DbOrTx, kind: "model" | "provider", id: string) {
  const table = kind === "model" ? models : providers;
  const [row] = await db.select({ projectId: table.projectId }).from(table).where(eq(table.id, id));
  return row?.projectId;
}

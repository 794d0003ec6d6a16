import { newId } from "@osm/keys/ids";
import { and, desc, eq, gt, isNull, lt, or, sql } from "drizzle-orm";
import type { DbOrTx } from "../client.ts";
import { nextVersion } from "../schema/columns.ts";
import { managementTokens } from "../schema/keys.ts";
import type { Role } from "../schema/projects.ts";
import { type PageParams, toPage } from "./pagination.ts";

export async function findActiveToken(db: DbOrTx, secretHash: string, now: Date) {
  const [row] = await db
    .select({
      id: managementTokens.id,
      projectId: managementTokens.projectId,
      role: managementTokens.role,
    })
    .from(managementTokens)
    .where(
      and(
        eq(managementTokens.secretHash, secretHash),
        isNull(managementTokens.revokedAt),
        or(isNull(managementTokens.expiresAt), gt(managementTokens.expiresAt, now)),
      ),
    );
  return row;
}

export async function insertToken(
  db: DbOrTx,
  values: {
    projectId: string;
    label: string;
    role: Role;
    secretHash: string;
    display: string;
    expiresAt: Date | null;
    createdBy: string | null;
  },
) {
  const [row] = await db
    .insert(managementTokens)
    .values({ id: newId("token"), ...values })
    .returning();
  return row!;
}

export async function listTokens(db: DbOrTx, projectId: string, page: PageParams) {
  const rows = await db
    .select()
    .from(managementTokens)
    .where(
      and(
        eq(managementTokens.projectId, projectId),
        page.cursor ? lt(managementTokens.id, page.cursor) : undefined,
      ),
    )
    .orderBy(desc(managementTokens.id))
    .limit(page.limit + 1);
  return toPage(rows, page.limit);
}

export async function findToken(db: DbOrTx, id: string) {
  const [row] = await db.select().from(managementTokens).where(eq(managementTokens.id, id));
  return row;
}

export async function revokeToken(db: DbOrTx, id: string, now: Date) {
  const [row] = await db
    .update(managementTokens)
    .set({ revokedAt: now, updatedAt: now, version: nextVersion })
    .where(and(eq(managementTokens.id, id), isNull(managementTokens.revokedAt)))
    .returning();
  return row;
}

/**
 * Revokes the live tokens that `creatorId` made in a project, and the tokens those tokens
 * made, down the whole chain; returns the revoked ids.
 */
export async function revokeTokensCreatedBy(
  db: DbOrTx,
  projectId: string,
  creatorId: string,
  now: Date,
): Promise<string[]> {
  const rows = await db.execute<{ id: string }>(sql`
    with recursive made (id) as (
      select id from management_tokens where project_id = ${projectId} and created_by = ${creatorId}
      union
      select t.id from management_tokens as t join made on t.created_by = made.id
      where t.project_id = ${projectId}
    )
    update management_tokens set revoked_at = ${now.toISOString()}, updated_at = ${now.toISOString()},
      version = ${nextVersion}
    where id in (select id from made) and revoked_at is null
    returning id`);
  return [...rows].map((r) => r.id);
}

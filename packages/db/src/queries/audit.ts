import { newId } from "@osm/keys/ids";
import { and, desc, eq, like, lt } from "drizzle-orm";
import type { DbOrTx } from "../client.ts";
import { type ActorType, auditLog } from "../schema/audit.ts";
import { type PageParams, toPage } from "./pagination.ts";

export type AuditActor = { type: ActorType; id: string | null };

export type AuditEntry = {
  projectId: string | null;
  actor: AuditActor;
  action: string;
  targetType: string;
  targetId: string | null;
  data?: Record<string, unknown>;
};

/** Call inside the mutation's transaction: the audit row commits or rolls back with it. */
export async function recordAudit(tx: DbOrTx, entry: AuditEntry): Promise<void> {
  await tx.insert(auditLog).values({
    id: newId("audit"),
    projectId: entry.projectId,
    actorType: entry.actor.type,
    actorId: entry.actor.id,
    action: entry.action,
    targetType: entry.targetType,
    targetId: entry.targetId,
    data: entry.data ?? {},
  });
}

export type AuditFilter = { targetId?: string; action?: string; actorId?: string };

export async function listAudit(
  db: DbOrTx,
  projectId: string,
  page: PageParams,
  filter: AuditFilter = {},
) {
  const rows = await db
    .select()
    .from(auditLog)
    .where(
      and(
        eq(auditLog.projectId, projectId),
        page.cursor ? lt(auditLog.id, page.cursor) : undefined,
        filter.targetId ? eq(auditLog.targetId, filter.targetId) : undefined,
        // "key." lists every key action; a full name one action.
        filter.action
          ? filter.action.endsWith(".")
            ? like(auditLog.action, `${filter.action}%`)
            : eq(auditLog.action, filter.action)
          : undefined,
        filter.actorId ? eq(auditLog.actorId, filter.actorId) : undefined,
      ),
    )
    .orderBy(desc(auditLog.id))
    .limit(page.limit + 1);
  return toPage(rows, page.limit);
}

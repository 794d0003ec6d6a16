import type { Tx } from "@osm/db/client";
import { recordAudit } from "@osm/db/queries/audit";
import type { Invalidation } from "@osm/jobs/invalidation";
import { auditActor } from "./audit-actor.ts";
import type { AuthedContext, ProjectAccess } from "./trpc.ts";

export type AuditedChange = {
  action: string;
  target: { type: string; id: string | null };
  data?: Record<string, unknown>;
  /** What the proxies must drop; published only once the transaction committed. */
  publish?: Invalidation | readonly Invalidation[] | null;
};

type AuditedContext = Pick<AuthedContext, "db" | "actor" | "publish"> & {
  project: Pick<ProjectAccess, "id">;
};

/**
 * Runs a change and its audit row in one transaction (both commit or neither), then tells the
 * proxies. The entry may depend on what the change returned (a new row's id, what it removed);
 * null when the change turned out to change nothing, which leaves no audit row.
 */
export async function audited<R>(
  ctx: AuditedContext,
  entry: AuditedChange | ((result: R) => AuditedChange | null),
  change: (tx: Tx) => Promise<R>,
): Promise<R> {
  const { result, publish } = await ctx.db.transaction(async (tx) => {
    const result = await change(tx);
    const e = typeof entry === "function" ? entry(result) : entry;
    if (!e) return { result, publish: null };
    await recordAudit(tx, {
      projectId: ctx.project.id,
      actor: auditActor(ctx.actor),
      action: e.action,
      targetType: e.target.type,
      targetId: e.target.id,
      data: e.data,
    });
    return { result, publish: e.publish };
  });
  const invalidations: readonly Invalidation[] = !publish
    ? []
    : "kind" in publish
      ? [publish]
      : publish;
  for (const invalidation of invalidations) await ctx.publish(invalidation);
  return result;
}

import { recordAudit } from "@osm/db/queries/audit";
import { copyCatalog } from "@osm/db/queries/catalog";
import { upsertMembership } from "@osm/db/queries/members";
import {
  deleteProject as deleteProjectRow,
  findProject,
  insertProject,
  listProjects,
  type ProjectScope,
  updateProject,
} from "@osm/db/queries/projects";
import { nextChangeVersion } from "@osm/db/queries/versions";
import { TRPCError } from "@trpc/server";
import { auditActor } from "../audit-actor.ts";
import { audited } from "../audited.ts";
import { type AuthedContext, notFound, type ProjectContext, requireRole } from "../trpc.ts";

const view = (p: { id: string; name: string; createdAt: Date }) => ({
  id: p.id,
  name: p.name,
  createdAt: p.createdAt,
});

/** Projects addressed by `id` rather than `projectId`. */
export const projectById = (_ctx: AuthedContext, input: { id: string }) => ({
  projectId: input.id,
});

export async function listVisibleProjects(
  ctx: AuthedContext,
  page: { cursor?: string; limit: number },
) {
  const actor = ctx.actor;
  const scope: ProjectScope =
    actor.type === "master"
      ? { all: true }
      : actor.type === "token"
        ? { projectIds: [actor.projectId] }
        : { userId: actor.userId };
  const rows = await listProjects(ctx.db, scope, page);
  return { items: rows.items.map(view), nextCursor: rows.nextCursor };
}

export async function showProject(ctx: ProjectContext) {
  const project = await findProject(ctx.db, ctx.project.id);
  if (!project) notFound("Project");
  return { ...view(project), role: ctx.project.role };
}

/** The creator owns the new project; a catalog copy is audited in the source project too. */
export async function createProject(
  ctx: AuthedContext,
  input: { name: string; copyCatalogFrom?: string },
) {
  if (ctx.actor.type === "token") {
    throw new TRPCError({
      code: "FORBIDDEN",
      message: "Management tokens belong to one project and cannot create projects.",
    });
  }
  // Copying a catalog reads its providers' credentials: only for admins of the source.
  if (input.copyCatalogFrom) await requireRole(ctx, input.copyCatalogFrom, "admin");
  const actor = ctx.actor;
  const project = await ctx.db.transaction(async (tx) => {
    const row = await insertProject(tx, input.name);
    if (actor.type === "user") await upsertMembership(tx, row.id, actor.userId, "owner");
    if (input.copyCatalogFrom) {
      await copyCatalog(tx, input.copyCatalogFrom, row.id);
      // The copy takes the source's sealed provider keys along: its admins see who took them.
      await recordAudit(tx, {
        projectId: input.copyCatalogFrom,
        actor: auditActor(actor),
        action: "project.catalog_copied",
        targetType: "project",
        targetId: row.id,
        data: { toProjectId: row.id, toProjectName: input.name },
      });
    }
    await recordAudit(tx, {
      projectId: row.id,
      actor: auditActor(actor),
      action: "project.create",
      targetType: "project",
      targetId: row.id,
      data: { name: input.name, copyCatalogFrom: input.copyCatalogFrom ?? null },
    });
    return row;
  });
  return view(project);
}

export async function renameProject(ctx: ProjectContext, name: string) {
  const project = await audited(
    ctx,
    (row: { id: string; version: number }) => ({
      action: "project.update",
      target: { type: "project", id: ctx.project.id },
      data: { name },
      publish: { kind: "project", id: row.id, version: row.version },
    }),
    async (tx) => {
      const row = await updateProject(tx, ctx.project.id, { name }, ctx.now());
      // Deleted by someone else since the role check.
      if (!row) notFound("Project");
      return row;
    },
  );
  return view(project);
}

/** Proxies drop the project's catalog and every cached key of it. */
export async function deleteProject(ctx: ProjectContext) {
  await audited(
    ctx,
    (version: number | null) => ({
      action: "project.delete",
      target: { type: "project", id: ctx.project.id },
      publish: version === null ? null : { kind: "project", id: ctx.project.id, version },
    }),
    async (tx) => ((await deleteProjectRow(tx, ctx.project.id)) ? nextChangeVersion(tx) : null),
  );
  return { ok: true };
}

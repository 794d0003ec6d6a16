import { recordAudit } from "@osm/db/queries/audit";
import { copyCatalog } from "@osm/db/queries/catalog";
import { upsertMembership } from "@osm/db/queries/members";
import {
  deleteProject,
  findProject,
  insertProject,
  listProjects,
  type ProjectScope,
  updateProject,
} from "@osm/db/queries/projects";
import { nextChangeVersion } from "@osm/db/queries/versions";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { auditActor } from "../audit-actor.ts";
import { idSchema, pageInput } from "../inputs.ts";
import { authedProcedure, requireRole, router } from "../trpc.ts";

const nameSchema = z.string().trim().min(1, "must not be empty").max(100);

const view = (p: { id: string; name: string; createdAt: Date }) => ({
  id: p.id,
  name: p.name,
  createdAt: p.createdAt,
});

export const projectsRouter = router({
  list: authedProcedure
    .input(z.strictObject({ ...pageInput }).default({ limit: 50 }))
    .query(async ({ ctx, input }) => {
      const actor = ctx.actor;
      const scope: ProjectScope =
        actor.type === "master"
          ? { all: true }
          : actor.type === "token"
            ? { projectIds: [actor.projectId] }
            : { userId: actor.userId };
      const page = await listProjects(ctx.db, scope, input);
      return { items: page.items.map(view), nextCursor: page.nextCursor };
    }),

  get: authedProcedure.input(z.strictObject({ id: idSchema })).query(async ({ ctx, input }) => {
    const role = await requireRole(ctx, input.id, "viewer");
    const project = await findProject(ctx.db, input.id);
    if (!project) throw new TRPCError({ code: "NOT_FOUND", message: "Project not found." });
    return { ...view(project), role };
  }),

  create: authedProcedure
    .input(z.strictObject({ name: nameSchema, copyCatalogFrom: idSchema.optional() }))
    .mutation(async ({ ctx, input }) => {
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
    }),

  update: authedProcedure
    .input(z.strictObject({ id: idSchema, name: nameSchema }))
    .mutation(async ({ ctx, input }) => {
      await requireRole(ctx, input.id, "owner");
      const project = await ctx.db.transaction(async (tx) => {
        const row = await updateProject(tx, input.id, { name: input.name }, ctx.now());
        await recordAudit(tx, {
          projectId: input.id,
          actor: auditActor(ctx.actor),
          action: "project.update",
          targetType: "project",
          targetId: input.id,
          data: { name: input.name },
        });
        return row!;
      });
      await ctx.publish({ kind: "project", id: project.id, version: project.version });
      return view(project);
    }),

  delete: authedProcedure
    .input(z.strictObject({ id: idSchema }))
    .mutation(async ({ ctx, input }) => {
      await requireRole(ctx, input.id, "owner");
      const version = await ctx.db.transaction(async (tx) => {
        await recordAudit(tx, {
          projectId: input.id,
          actor: auditActor(ctx.actor),
          action: "project.delete",
          targetType: "project",
          targetId: input.id,
        });
        const deleted = await deleteProject(tx, input.id);
        return deleted ? nextChangeVersion(tx) : null;
      });
      // Proxies drop the project's catalog and every cached key of it.
      if (version !== null) await ctx.publish({ kind: "project", id: input.id, version });
      return { ok: true };
    }),
});

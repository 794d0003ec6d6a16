import { randomBytes } from "node:crypto";
import type { DbOrTx } from "@osm/db/client";
import { recordAudit } from "@osm/db/queries/audit";
import {
  countOwners,
  deleteMembership,
  insertInvitation,
  listMembers,
  setMembershipRole,
} from "@osm/db/queries/members";
import { nextChangeVersion } from "@osm/db/queries/versions";
import { roles } from "@osm/db/schema";
import { hashSecret } from "@osm/keys/secrets";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { auditActor } from "../audit-actor.ts";
import { idSchema, pageInput, projectIdSchema } from "../inputs.ts";
import { type AuthedContext, authedProcedure, requireRole, router } from "../trpc.ts";

const inviteLifetimeMs = 7 * 24 * 3600 * 1000;

function origin(ctx: AuthedContext): string {
  const host = ctx.req.headers.host ?? `localhost:${ctx.config.port}`;
  const proto = ctx.req.headers["x-forwarded-proto"] === "https" ? "https" : "http";
  return `${proto}://${host}`;
}

async function assertNotLastOwner(projectId: string, userId: string, tx: DbOrTx) {
  const members = await listMembers(tx, projectId);
  const target = members.find((m) => m.userId === userId);
  if (target?.role === "owner" && (await countOwners(tx, projectId)) <= 1) {
    throw new TRPCError({
      code: "PRECONDITION_FAILED",
      message: "A project keeps at least one owner.",
    });
  }
  return target;
}

export const membersRouter = router({
  list: authedProcedure
    .input(z.strictObject({ projectId: projectIdSchema, ...pageInput }))
    .query(async ({ ctx, input }) => {
      await requireRole(ctx, input.projectId, "viewer");
      // A project has few members: one page holds them all.
      const items = await listMembers(ctx.db, input.projectId);
      return { items, nextCursor: null };
    }),

  invite: authedProcedure
    .input(
      z.strictObject({
        projectId: projectIdSchema,
        email: z.email().max(320),
        role: z.enum(roles),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      await requireRole(ctx, input.projectId, "owner");
      const token = randomBytes(24).toString("base64url");
      const expiresAt = new Date(ctx.now().getTime() + inviteLifetimeMs);
      await ctx.db.transaction(async (tx) => {
        const invite = await insertInvitation(tx, {
          projectId: input.projectId,
          email: input.email,
          role: input.role,
          tokenHash: hashSecret(token),
          invitedBy: ctx.actor.type === "user" ? ctx.actor.userId : null,
          expiresAt,
        });
        await recordAudit(tx, {
          projectId: input.projectId,
          actor: auditActor(ctx.actor),
          action: "member.invite",
          targetType: "invitation",
          targetId: invite.id,
          data: { email: input.email.toLowerCase(), role: input.role },
        });
      });
      return { inviteUrl: `${origin(ctx)}/invite#token=${token}`, expiresAt };
    }),

  setRole: authedProcedure
    .input(z.strictObject({ projectId: projectIdSchema, userId: idSchema, role: z.enum(roles) }))
    .mutation(async ({ ctx, input }) => {
      await requireRole(ctx, input.projectId, "owner");
      const row = await ctx.db.transaction(async (tx) => {
        if (input.role !== "owner") await assertNotLastOwner(input.projectId, input.userId, tx);
        const row = await setMembershipRole(tx, input.projectId, input.userId, input.role);
        if (!row) throw new TRPCError({ code: "NOT_FOUND", message: "Member not found." });
        await recordAudit(tx, {
          projectId: input.projectId,
          actor: auditActor(ctx.actor),
          action: "member.set_role",
          targetType: "user",
          targetId: input.userId,
          data: { role: input.role },
        });
        return row;
      });
      await ctx.publish({
        kind: "membership",
        id: `${input.projectId}:${input.userId}`,
        version: row.version,
      });
      return { userId: row.userId, role: row.role };
    }),

  remove: authedProcedure
    .input(z.strictObject({ projectId: projectIdSchema, userId: idSchema }))
    .mutation(async ({ ctx, input }) => {
      await requireRole(ctx, input.projectId, "owner");
      const version = await ctx.db.transaction(async (tx) => {
        await assertNotLastOwner(input.projectId, input.userId, tx);
        const row = await deleteMembership(tx, input.projectId, input.userId);
        if (!row) throw new TRPCError({ code: "NOT_FOUND", message: "Member not found." });
        await recordAudit(tx, {
          projectId: input.projectId,
          actor: auditActor(ctx.actor),
          action: "member.remove",
          targetType: "user",
          targetId: input.userId,
        });
        return nextChangeVersion(tx);
      });
      await ctx.publish({
        kind: "membership",
        id: `${input.projectId}:${input.userId}`,
        version,
      });
      return { ok: true };
    }),
});

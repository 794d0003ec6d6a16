import { randomBytes } from "node:crypto";
import type { DbOrTx } from "@osm/db/client";
import { recordAudit } from "@osm/db/queries/audit";
import {
  countOwners,
  deleteMembership,
  deleteOpenInvitation,
  deleteOpenInvitationsFrom,
  findInvitation,
  insertInvitation,
  listMembers,
  listOpenInvitations,
  lockProjectMemberships,
  setMembershipRole,
} from "@osm/db/queries/members";
import { revokeTokensCreatedBy } from "@osm/db/queries/tokens";
import { nextChangeVersion } from "@osm/db/queries/versions";
import { roles } from "@osm/db/schema";
import { hashSecret } from "@osm/keys/secrets";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { auditActor } from "../audit-actor.ts";
import { idSchema, pageInput, projectIdSchema, projectPageInput } from "../inputs.ts";
import { type AuthedContext, authedProcedure, requireRole, router } from "../trpc.ts";

const inviteLifetimeMs = 7 * 24 * 3600 * 1000;

// Links come from configuration, never from the request: a forged Host header must not put
// another site's address into an invitation the owner forwards.
const origin = (ctx: AuthedContext) =>
  ctx.config.publicUrl ?? `http://127.0.0.1:${ctx.config.port}`;

async function assertNotLastOwner(projectId: string, userId: string, tx: DbOrTx) {
  await lockProjectMemberships(tx, projectId);
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
      const invite = await ctx.db.transaction(async (tx) => {
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
        return invite;
      });
      return { id: invite.id, inviteUrl: `${origin(ctx)}/invite#token=${token}`, expiresAt };
    }),

  /** Open invitations (not accepted, not expired); the links themselves are never shown again. */
  invitations: authedProcedure.input(projectPageInput).query(async ({ ctx, input }) => {
    await requireRole(ctx, input.projectId, "owner");
    return listOpenInvitations(ctx.db, input.projectId, input, ctx.now());
  }),

  revokeInvitation: authedProcedure
    .input(z.strictObject({ id: idSchema }))
    .mutation(async ({ ctx, input }) => {
      const invite = await findInvitation(ctx.db, input.id);
      if (!invite) throw new TRPCError({ code: "NOT_FOUND", message: "Invitation not found." });
      await requireRole(ctx, invite.projectId, "owner");
      await ctx.db.transaction(async (tx) => {
        const row = await deleteOpenInvitation(tx, invite.id, ctx.now());
        if (!row) throw new TRPCError({ code: "NOT_FOUND", message: "Invitation not found." });
        await recordAudit(tx, {
          projectId: invite.projectId,
          actor: auditActor(ctx.actor),
          action: "member.revoke_invitation",
          targetType: "invitation",
          targetId: invite.id,
          data: { email: invite.email },
        });
      });
      return { ok: true };
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
        // Access ends with the membership: the links they sent and the tokens they made
        // (and the tokens those made) stop working with it.
        const now = ctx.now();
        const invitationIds = await deleteOpenInvitationsFrom(
          tx,
          input.projectId,
          input.userId,
          now,
        );
        const tokenIds = await revokeTokensCreatedBy(tx, input.projectId, input.userId, now);
        await recordAudit(tx, {
          projectId: input.projectId,
          actor: auditActor(ctx.actor),
          action: "member.remove",
          targetType: "user",
          targetId: input.userId,
          data: { invitationsRevoked: invitationIds, tokensRevoked: tokenIds },
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

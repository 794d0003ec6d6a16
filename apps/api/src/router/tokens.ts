import { recordAudit } from "@osm/db/queries/audit";
import { findToken, insertToken, listTokens, revokeToken } from "@osm/db/queries/tokens";
import type { ManagementTokenRow } from "@osm/db/schema";
import { displaySecret, generateSecret, hashSecret } from "@osm/keys/secrets";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { auditActor } from "../audit-actor.ts";
import { idSchema, labelSchema, projectPageInput } from "../inputs.ts";
import { authedProcedure, requireRole, roleRank, router } from "../trpc.ts";

// Owner-only actions (members, deleting the project) stay with people.
const tokenRoles = ["admin", "member", "viewer"] as const;

const view = (t: ManagementTokenRow, now: Date) => ({
  id: t.id,
  projectId: t.projectId,
  label: t.label,
  role: t.role,
  display: t.display,
  status: t.revokedAt
    ? ("revoked" as const)
    : t.expiresAt && t.expiresAt <= now
      ? ("expired" as const)
      : ("active" as const),
  expiresAt: t.expiresAt,
  lastUsedAt: t.lastUsedAt,
  createdAt: t.createdAt,
});

export const tokensRouter = router({
  list: authedProcedure.input(projectPageInput).query(async ({ ctx, input }) => {
    await requireRole(ctx, input.projectId, "admin");
    const page = await listTokens(ctx.db, input.projectId, input);
    const now = ctx.now();
    return { items: page.items.map((t) => view(t, now)), nextCursor: page.nextCursor };
  }),

  create: authedProcedure
    .input(
      z.strictObject({
        projectId: idSchema,
        label: labelSchema,
        role: z.enum(tokenRoles),
        expiresAt: z.date().optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const callerRole = await requireRole(ctx, input.projectId, "admin");
      if (roleRank[input.role] > roleRank[callerRole]) {
        throw new TRPCError({
          code: "FORBIDDEN",
          message: "A token cannot have a higher role than its creator.",
        });
      }
      const now = ctx.now();
      if (input.expiresAt && input.expiresAt <= now) {
        throw new TRPCError({ code: "BAD_REQUEST", message: "expiresAt must be in the future." });
      }
      // A token made by a token lives no longer than its parent: otherwise a short-lived token
      // could mint itself a permanent successor.
      let expiresAt = input.expiresAt ?? null;
      if (ctx.actor.type === "token") {
        const parent = await findToken(ctx.db, ctx.actor.tokenId);
        const parentEnd = parent?.expiresAt ?? null;
        if (parentEnd && (!expiresAt || expiresAt > parentEnd)) expiresAt = parentEnd;
      }
      const secret = generateSecret("token");
      const token = await ctx.db.transaction(async (tx) => {
        const row = await insertToken(tx, {
          projectId: input.projectId,
          label: input.label,
          role: input.role,
          secretHash: hashSecret(secret),
          display: displaySecret(secret),
          expiresAt,
          createdBy: auditActor(ctx.actor).id,
        });
        await recordAudit(tx, {
          projectId: input.projectId,
          actor: auditActor(ctx.actor),
          action: "token.create",
          targetType: "token",
          targetId: row.id,
          data: { label: input.label, role: input.role },
        });
        return row;
      });
      return { token: view(token, now), secret };
    }),

  revoke: authedProcedure
    .input(z.strictObject({ id: idSchema }))
    .mutation(async ({ ctx, input }) => {
      const token = await findToken(ctx.db, input.id);
      if (!token) throw new TRPCError({ code: "NOT_FOUND", message: "Token not found." });
      await requireRole(ctx, token.projectId, "admin");
      const now = ctx.now();
      const revoked = await ctx.db.transaction(async (tx) => {
        const row = await revokeToken(tx, token.id, now);
        if (row) {
          await recordAudit(tx, {
            projectId: token.projectId,
            actor: auditActor(ctx.actor),
            action: "token.revoke",
            targetType: "token",
            targetId: token.id,
          });
        }
        return row ?? token;
      });
      return view(revoked, now);
    }),
});

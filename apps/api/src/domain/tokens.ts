import { findToken, insertToken, listTokens, revokeToken } from "@osm/db/queries/tokens";
import type { ManagementTokenRow } from "@osm/db/schema";
import { displaySecret, generateSecret, hashSecret } from "@osm/keys/secrets";
import { TRPCError } from "@trpc/server";
import { auditActor } from "../audit-actor.ts";
import { audited } from "../audited.ts";
import { type AuthedContext, notFound, type ProjectContext, roleRank } from "../trpc.ts";

// Owner-only actions (members, deleting the project) stay with people.
export const tokenRoles = ["admin", "member", "viewer"] as const;

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

export async function locateToken(ctx: AuthedContext, id: string): Promise<ManagementTokenRow> {
  const token = await findToken(ctx.db, id);
  if (!token) notFound("Token");
  return token;
}

export async function listTokenPage(ctx: ProjectContext, page: { cursor?: string; limit: number }) {
  const rows = await listTokens(ctx.db, ctx.project.id, page);
  const now = ctx.now();
  return { items: rows.items.map((t) => view(t, now)), nextCursor: rows.nextCursor };
}

/** The secret is returned once, here; only its hash is stored. */
export async function createToken(
  ctx: ProjectContext,
  input: { label: string; role: (typeof tokenRoles)[number]; expiresAt?: Date },
) {
  if (roleRank[input.role] > roleRank[ctx.project.role]) {
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
  const token = await audited(
    ctx,
    (row: ManagementTokenRow) => ({
      action: "token.create",
      target: { type: "token", id: row.id },
      data: { label: input.label, role: input.role },
    }),
    (tx) =>
      insertToken(tx, {
        projectId: ctx.project.id,
        label: input.label,
        role: input.role,
        secretHash: hashSecret(secret),
        display: displaySecret(secret),
        expiresAt,
        createdBy: auditActor(ctx.actor).id,
      }),
  );
  return { token: view(token, now), secret };
}

/** Revoking a revoked token answers it as it is, with no second audit row. */
export async function revokeManagementToken(ctx: ProjectContext<ManagementTokenRow>) {
  const token = ctx.target;
  const now = ctx.now();
  const revoked = await audited(
    ctx,
    (row: ManagementTokenRow | undefined) =>
      row ? { action: "token.revoke", target: { type: "token", id: token.id } } : null,
    (tx) => revokeToken(tx, token.id, now),
  );
  return view(revoked ?? token, now);
}

import { randomBytes } from "node:crypto";
import type { DbOrTx } from "@osm/db/client";
import {
  countOwners,
  deleteMembership,
  deleteOpenInvitation,
  deleteOpenInvitationsFrom,
  findInvitation,
  insertInvitation,
  listMembers,
  lockProjectMemberships,
  setMembershipRole,
} from "@osm/db/queries/members";
import { revokeTokensCreatedBy } from "@osm/db/queries/tokens";
import { nextChangeVersion } from "@osm/db/queries/versions";
import type { InvitationRow, Role } from "@osm/db/schema";
import { hashSecret } from "@osm/keys/secrets";
import { TRPCError } from "@trpc/server";
import { audited } from "../audited.ts";
import { type AuthedContext, notFound, type ProjectContext } from "../trpc.ts";

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

const membership = (projectId: string, userId: string, version: number) =>
  ({ kind: "membership", id: `${projectId}:${userId}`, version }) as const;

export async function locateInvitation(ctx: AuthedContext, id: string): Promise<InvitationRow> {
  const invite = await findInvitation(ctx.db, id);
  if (!invite) notFound("Invitation");
  return invite;
}

/** The link carries the only copy of the token; the database keeps its hash. */
export async function inviteMember(ctx: ProjectContext, input: { email: string; role: Role }) {
  const token = randomBytes(24).toString("base64url");
  const expiresAt = new Date(ctx.now().getTime() + inviteLifetimeMs);
  const invite = await audited(
    ctx,
    (row: InvitationRow) => ({
      action: "member.invite",
      target: { type: "invitation", id: row.id },
      data: { email: input.email.toLowerCase(), role: input.role },
    }),
    (tx) =>
      insertInvitation(tx, {
        projectId: ctx.project.id,
        email: input.email,
        role: input.role,
        tokenHash: hashSecret(token),
        invitedBy: ctx.actor.type === "user" ? ctx.actor.userId : null,
        expiresAt,
      }),
  );
  return { id: invite.id, inviteUrl: `${origin(ctx)}/invite#token=${token}`, expiresAt };
}

export async function revokeInvitation(ctx: ProjectContext<InvitationRow>) {
  const invite = ctx.target;
  await audited(
    ctx,
    {
      action: "member.revoke_invitation",
      target: { type: "invitation", id: invite.id },
      data: { email: invite.email },
    },
    async (tx) => {
      const row = await deleteOpenInvitation(tx, invite.id, ctx.now());
      if (!row) notFound("Invitation");
    },
  );
  return { ok: true };
}

export async function setMemberRole(ctx: ProjectContext, input: { userId: string; role: Role }) {
  const projectId = ctx.project.id;
  const row = await audited(
    ctx,
    (row: { version: number }) => ({
      action: "member.set_role",
      target: { type: "user", id: input.userId },
      data: { role: input.role },
      publish: membership(projectId, input.userId, row.version),
    }),
    async (tx) => {
      if (input.role !== "owner") await assertNotLastOwner(projectId, input.userId, tx);
      const row = await setMembershipRole(tx, projectId, input.userId, input.role);
      if (!row) notFound("Member");
      return row;
    },
  );
  return { userId: row.userId, role: row.role };
}

/**
 * Access ends with the membership: the links they sent and the tokens they made (and the
 * tokens those made) stop working with it.
 */
export async function removeMember(ctx: ProjectContext, userId: string) {
  const projectId = ctx.project.id;
  await audited(
    ctx,
    (removed: { invitationIds: string[]; tokenIds: string[]; version: number }) => ({
      action: "member.remove",
      target: { type: "user", id: userId },
      data: { invitationsRevoked: removed.invitationIds, tokensRevoked: removed.tokenIds },
      publish: membership(projectId, userId, removed.version),
    }),
    async (tx) => {
      await assertNotLastOwner(projectId, userId, tx);
      const row = await deleteMembership(tx, projectId, userId);
      if (!row) notFound("Member");
      const now = ctx.now();
      const invitationIds = await deleteOpenInvitationsFrom(tx, projectId, userId, now);
      const tokenIds = await revokeTokensCreatedBy(tx, projectId, userId, now);
      return { invitationIds, tokenIds, version: await nextChangeVersion(tx) };
    },
  );
  return { ok: true };
}

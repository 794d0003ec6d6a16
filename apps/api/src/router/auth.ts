import { randomBytes } from "node:crypto";
import { recordAudit } from "@osm/db/queries/audit";
import {
  countUsers,
  deleteOtherSessions,
  deleteSession,
  findUserByEmail,
  findUserById,
  insertSession,
  insertUser,
  lockFirstSignup,
  setUserPassword,
} from "@osm/db/queries/auth";
import {
  countOwners,
  findMembershipRole,
  findOpenInvitation,
  listMemberships,
  lockProjectMemberships,
  markInvitationAccepted,
  upsertMembership,
} from "@osm/db/queries/members";
import { burnPasswordCheck, hashPassword, verifyPassword } from "@osm/keys/passwords";
import { hashSecret } from "@osm/keys/secrets";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import {
  clearSessionCookie,
  sessionCookieName,
  sessionLifetimeMs,
  setSessionCookie,
} from "../auth/session-cookie.ts";
import { isSetupToken } from "../auth/setup-token.ts";
import type { Context } from "../context.ts";
import { authedProcedure, publicProcedure, router, userProcedure } from "../trpc.ts";

const emailSchema = z
  .email()
  .max(320)
  .transform((e) => e.toLowerCase());
const passwordSchema = z.string().min(10, "must be at least 10 characters").max(256);
const invalidLogin = "Invalid email or password.";

/** Counts a password attempt for `email` from the caller's address; refuses once over the limit. */
async function countPasswordAttempt(ctx: Context, email: string) {
  const throttled = await ctx.throttle.attempt(email, ctx.ip);
  if (throttled.limited) {
    ctx.res.setHeader("Retry-After", String(throttled.retryAfterSeconds));
    throw new TRPCError({
      code: "TOO_MANY_REQUESTS",
      message: "Too many failed sign-ins: try again later.",
    });
  }
}

async function startSession(ctx: Context, userId: string) {
  const token = randomBytes(32).toString("base64url");
  await insertSession(
    ctx.db,
    userId,
    hashSecret(token),
    new Date(ctx.now().getTime() + sessionLifetimeMs),
  );
  setSessionCookie(ctx.req, ctx.res, sessionCookieName(ctx.config.publicUrl), token);
}

export const authRouter = router({
  /** Public: tells the dashboard whether someone is signed in and whether setup is pending. */
  me: publicProcedure.query(async ({ ctx }) => {
    const actor = ctx.actor;
    if (!actor) return { actor: null, needsSetup: (await countUsers(ctx.db)) === 0 };
    if (actor.type === "user") {
      const projects = await listMemberships(ctx.db, actor.userId);
      return {
        actor: { type: "user" as const, id: actor.userId, email: actor.email, projects },
        needsSetup: false,
      };
    }
    if (actor.type === "token") {
      return {
        actor: {
          type: "token" as const,
          id: actor.tokenId,
          projectId: actor.projectId,
          role: actor.role,
        },
        needsSetup: false,
      };
    }
    return { actor: { type: "master" as const }, needsSetup: false };
  }),

  signup: publicProcedure
    .input(
      z.strictObject({
        email: emailSchema,
        password: passwordSchema,
        setupToken: z.string().max(200),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      if (!isSetupToken(ctx.config.secret, input.setupToken)) {
        throw new TRPCError({ code: "FORBIDDEN", message: "Invalid setup token." });
      }
      const passwordHash = await hashPassword(input.password);
      const user = await ctx.db.transaction(async (tx) => {
        // Serialises concurrent first signups: exactly one becomes the owner.
        await lockFirstSignup(tx);
        if ((await countUsers(tx)) > 0) {
          throw new TRPCError({
            code: "FORBIDDEN",
            message: "Sign-up is closed: ask a project owner for an invitation.",
          });
        }
        const row = await insertUser(tx, input.email, passwordHash);
        await recordAudit(tx, {
          projectId: null,
          actor: { type: "user", id: row.id },
          action: "user.signup",
          targetType: "user",
          targetId: row.id,
        });
        return row;
      });
      await startSession(ctx, user.id);
      return { id: user.id, email: user.email };
    }),

  login: publicProcedure
    .input(z.strictObject({ email: emailSchema, password: z.string().max(256) }))
    .mutation(async ({ ctx, input }) => {
      await countPasswordAttempt(ctx, input.email);
      const user = await findUserByEmail(ctx.db, input.email);
      let ok = false;
      if (user) ok = await verifyPassword(input.password, user.passwordHash);
      else await burnPasswordCheck(input.password);
      // The attempt was counted above: a failure needs no further bookkeeping.
      if (!user || !ok) throw new TRPCError({ code: "UNAUTHORIZED", message: invalidLogin });
      await ctx.throttle.succeeded(input.email, ctx.ip);
      await startSession(ctx, user.id);
      return { id: user.id, email: user.email };
    }),

  logout: authedProcedure.mutation(async ({ ctx }) => {
    if (ctx.actor.type === "user") await deleteSession(ctx.db, ctx.actor.sessionId);
    clearSessionCookie(ctx.req, ctx.res, sessionCookieName(ctx.config.publicUrl));
    return { ok: true };
  }),

  changePassword: userProcedure
    .input(z.strictObject({ currentPassword: z.string().max(256), newPassword: passwordSchema }))
    .mutation(async ({ ctx, input }) => {
      const user = await findUserById(ctx.db, ctx.actor.userId);
      if (!user || !(await verifyPassword(input.currentPassword, user.passwordHash))) {
        throw new TRPCError({ code: "UNAUTHORIZED", message: "The current password is wrong." });
      }
      const passwordHash = await hashPassword(input.newPassword);
      await ctx.db.transaction(async (tx) => {
        await setUserPassword(tx, user.id, passwordHash);
        // Every other session ends: a changed password must lock out whoever knew the old one.
        await deleteOtherSessions(tx, user.id, ctx.actor.sessionId);
        await recordAudit(tx, {
          projectId: null,
          actor: { type: "user", id: user.id },
          action: "user.change_password",
          targetType: "user",
          targetId: user.id,
        });
      });
      return { ok: true };
    }),

  acceptInvite: publicProcedure
    .input(z.strictObject({ token: z.string().min(1).max(200), password: z.string().max(256) }))
    .mutation(async ({ ctx, input }) => {
      const now = ctx.now();
      const invite = await findOpenInvitation(ctx.db, hashSecret(input.token), now);
      if (!invite)
        throw new TRPCError({
          code: "NOT_FOUND",
          message: "This invitation is invalid or has expired.",
        });
      // The password rule is checked for everyone, before looking the account up: a short
      // password must not tell an inviter whether the invited email already has an account.
      const check = z.object({ password: passwordSchema }).safeParse({ password: input.password });
      if (!check.success) {
        throw new TRPCError({
          code: "BAD_REQUEST",
          message: `password ${check.error.issues[0]!.message}.`,
          cause: check.error,
        });
      }
      // An existing account's password is checked here: the same throttle as auth.login, on
      // the same counters, so invitations are no way around it. A wrong guess leaves the
      // invitation open for its rightful recipient.
      await countPasswordAttempt(ctx, invite.email);
      const existing = await findUserByEmail(ctx.db, invite.email);
      if (existing && !(await verifyPassword(input.password, existing.passwordHash))) {
        throw new TRPCError({ code: "UNAUTHORIZED", message: invalidLogin });
      }
      const passwordHash = existing ? null : await hashPassword(input.password);
      const { user, membership } = await ctx.db.transaction(async (tx) => {
        // Accepting a lower role must not take away a project's last owner (members.setRole's rule).
        await lockProjectMemberships(tx, invite.projectId);
        if (
          existing &&
          invite.role !== "owner" &&
          (await findMembershipRole(tx, invite.projectId, existing.id)) === "owner" &&
          (await countOwners(tx, invite.projectId)) <= 1
        ) {
          throw new TRPCError({
            code: "PRECONDITION_FAILED",
            message: "A project keeps at least one owner.",
          });
        }
        const user = existing ?? (await insertUser(tx, invite.email, passwordHash!));
        const membership = await upsertMembership(tx, invite.projectId, user.id, invite.role);
        await markInvitationAccepted(tx, invite.id, now);
        await recordAudit(tx, {
          projectId: invite.projectId,
          actor: { type: "user", id: user.id },
          action: "member.join",
          targetType: "user",
          targetId: user.id,
          data: { role: invite.role, invitationId: invite.id },
        });
        return { user, membership };
      });
      await ctx.publish({
        kind: "membership",
        id: `${invite.projectId}:${user.id}`,
        version: membership.version,
      });
      await ctx.throttle.succeeded(invite.email, ctx.ip);
      await startSession(ctx, user.id);
      return { id: user.id, email: user.email, projectId: invite.projectId };
    }),
});

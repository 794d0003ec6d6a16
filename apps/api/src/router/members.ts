import { listMembers, listOpenInvitations } from "@osm/db/queries/members";
import { roles } from "@osm/db/schema";
import { z } from "zod";
import {
  inviteMember,
  locateInvitation,
  removeMember,
  revokeInvitation,
  setMemberRole,
} from "../domain/members.ts";
import { idSchema, pageInput, projectIdSchema, projectPageInput } from "../inputs.ts";
import { projectProcedure, router } from "../trpc.ts";

export const membersRouter = router({
  list: projectProcedure(
    "viewer",
    z.strictObject({ projectId: projectIdSchema, ...pageInput }),
  ).query(async ({ ctx }) => {
    // A project has few members: one page holds them all.
    const items = await listMembers(ctx.db, ctx.project.id);
    return { items, nextCursor: null };
  }),

  invite: projectProcedure(
    "owner",
    z.strictObject({ projectId: projectIdSchema, email: z.email().max(320), role: z.enum(roles) }),
  ).mutation(({ ctx, input }) => inviteMember(ctx, input)),

  /** Open invitations (not accepted, not expired); the links themselves are never shown again. */
  invitations: projectProcedure("owner", projectPageInput).query(({ ctx, input }) =>
    listOpenInvitations(ctx.db, ctx.project.id, input, ctx.now()),
  ),

  revokeInvitation: projectProcedure("owner", z.strictObject({ id: idSchema }), (ctx, input) =>
    locateInvitation(ctx, input.id),
  ).mutation(({ ctx }) => revokeInvitation(ctx)),

  setRole: projectProcedure(
    "owner",
    z.strictObject({ projectId: projectIdSchema, userId: idSchema, role: z.enum(roles) }),
  ).mutation(({ ctx, input }) => setMemberRole(ctx, input)),

  remove: projectProcedure(
    "owner",
    z.strictObject({ projectId: projectIdSchema, userId: idSchema }),
  ).mutation(({ ctx, input }) => removeMember(ctx, input.userId)),
});

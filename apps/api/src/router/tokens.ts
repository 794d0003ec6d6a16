import { z } from "zod";
import {
  createToken,
  listTokenPage,
  locateToken,
  revokeManagementToken,
  tokenRoles,
} from "../domain/tokens.ts";
import { idSchema, labelSchema, projectPageInput } from "../inputs.ts";
import { projectProcedure, router } from "../trpc.ts";

export const tokensRouter = router({
  list: projectProcedure("admin", projectPageInput).query(({ ctx, input }) =>
    listTokenPage(ctx, input),
  ),

  create: projectProcedure(
    "admin",
    z.strictObject({
      projectId: idSchema,
      label: labelSchema,
      role: z.enum(tokenRoles),
      expiresAt: z.date().optional(),
    }),
  ).mutation(({ ctx, input }) => createToken(ctx, input)),

  revoke: projectProcedure("admin", z.strictObject({ id: idSchema }), (ctx, input) =>
    locateToken(ctx, input.id),
  ).mutation(({ ctx }) => revokeManagementToken(ctx)),
});

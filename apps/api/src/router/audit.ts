import { listAudit } from "@osm/db/queries/audit";
import { z } from "zod";
import { idSchema, pageInput, projectIdSchema } from "../inputs.ts";
import { authedProcedure, requireRole, router } from "../trpc.ts";

export const auditRouter = router({
  list: authedProcedure
    .input(
      z.strictObject({
        projectId: projectIdSchema,
        targetId: idSchema.optional(),
        action: z
          .string()
          .regex(/^[a-z_.]{1,64}$/, "Must be an action name or a prefix ending in '.'")
          .optional(),
        actorId: idSchema.optional(),
        ...pageInput,
      }),
    )
    .query(async ({ ctx, input }) => {
      await requireRole(ctx, input.projectId, "viewer");
      const { projectId, cursor, limit, ...filter } = input;
      return listAudit(ctx.db, projectId, { cursor, limit }, filter);
    }),
});

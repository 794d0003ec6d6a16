import { listAudit } from "@osm/db/queries/audit";
import { projectPageInput } from "../inputs.ts";
import { authedProcedure, requireRole, router } from "../trpc.ts";

export const auditRouter = router({
  list: authedProcedure.input(projectPageInput).query(async ({ ctx, input }) => {
    await requireRole(ctx, input.projectId, "viewer");
    return listAudit(ctx.db, input.projectId, input);
  }),
});

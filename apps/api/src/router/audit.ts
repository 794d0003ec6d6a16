import { listAudit } from "@osm/db/queries/audit";
import { projectPageInput } from "../inputs.ts";
import { redactUrl } from "../redact-url.ts";
import { authedProcedure, requireRole, router } from "../trpc.ts";

export const auditRouter = router({
  list: authedProcedure.input(projectPageInput).query(async ({ ctx, input }) => {
    await requireRole(ctx, input.projectId, "viewer");
    const page = await listAudit(ctx.db, input.projectId, input);
    // Rows written before URLs were redacted at write time are redacted on the way out.
    const items = page.items.map((row) =>
      typeof row.data.url === "string"
        ? { ...row, data: { ...row.data, url: redactUrl(row.data.url) } }
        : row,
    );
    return { items, nextCursor: page.nextCursor };
  }),
});

import { listAudit } from "@osm/db/queries/audit";
import { z } from "zod";
import { idSchema, pageInput, projectIdSchema } from "../inputs.ts";
import { redactUrl } from "../redact-url.ts";
import { projectProcedure, router } from "../trpc.ts";

export const auditRouter = router({
  list: projectProcedure(
    "viewer",
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
  ).query(async ({ ctx, input }) => {
    const { projectId, cursor, limit, ...filter } = input;
    const page = await listAudit(ctx.db, projectId, { cursor, limit }, filter);
    // Rows written before URLs were redacted at write time are redacted on the way out.
    const items = page.items.map((row) =>
      typeof row.data.url === "string"
        ? { ...row, data: { ...row.data, url: redactUrl(row.data.url) } }
        : row,
    );
    return { items, nextCursor: page.nextCursor };
  }),
});

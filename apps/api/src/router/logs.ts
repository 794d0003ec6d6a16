import { listLedger } from "@osm/db/queries/usage";
import { outcomes } from "@osm/db/schema";
import { formatUsd } from "@osm/policy/money";
import { z } from "zod";
import { attributionInput, idSchema, pageInput, projectIdSchema } from "../inputs.ts";
import { authedProcedure, requireRole, router } from "../trpc.ts";

export const logsRouter = router({
  list: authedProcedure
    .input(
      z.strictObject({
        projectId: projectIdSchema,
        keyId: idSchema.optional(),
        outcome: z.enum(outcomes).optional(),
        code: z.string().max(64).optional(),
        ...attributionInput,
        ...pageInput,
      }),
    )
    .query(async ({ ctx, input }) => {
      await requireRole(ctx, input.projectId, "viewer");
      const page = await listLedger(ctx.db, input);
      return {
        items: page.items.map((r) => ({
          requestId: r.requestId,
          keyId: r.keyId,
          model: r.model,
          provider: r.provider,
          outcome: r.outcome,
          code: r.code,
          status: r.status,
          stream: r.stream,
          inputTokens: r.inputTokens,
          outputTokens: r.outputTokens,
          costUsd: formatUsd(r.cost),
          latencyMs: r.latencyMs,
          endUser: r.endUser,
          tags: r.tags ?? [],
          admittedAt: r.admittedAt,
        })),
        nextCursor: page.nextCursor,
      };
    }),
});

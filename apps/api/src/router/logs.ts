import { listLedger, logOutcomes } from "@osm/db/queries/usage";
import { formatUsd } from "@osm/policy/money";
import { modelIdSchema } from "@osm/policy/schemas";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { attributionInput, idSchema, pageInput, projectIdSchema } from "../inputs.ts";
import { projectProcedure, router } from "../trpc.ts";

export const logsRouter = router({
  list: projectProcedure(
    "viewer",
    z.strictObject({
      projectId: projectIdSchema,
      keyId: idSchema.optional(),
      outcome: z.enum(logOutcomes).optional(),
      code: z.string().max(64).optional(),
      ...attributionInput,
      shadow: z.boolean().optional(),
      model: modelIdSchema.optional(),
      from: z.date().optional(),
      to: z.date().optional(),
      ...pageInput,
    }),
  ).query(async ({ ctx, input }) => {
    if (input.from && input.to && input.from >= input.to) {
      throw new TRPCError({ code: "BAD_REQUEST", message: "from must be before to." });
    }
    const page = await listLedger(ctx.db, input);
    return {
      items: page.items.map((r) => ({
        requestId: r.requestId,
        keyId: r.keyId,
        keyLabel: r.keyLabel,
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
        shadowCode: r.shadowCode,
        shadowMessage: r.shadowMessage,
        admittedAt: r.admittedAt,
      })),
      nextCursor: page.nextCursor,
    };
  }),
});

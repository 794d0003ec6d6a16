import { usageGroups, usageSummary, usageTimeseries } from "@osm/db/queries/usage";
import { formatUsd } from "@osm/policy/money";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { attributionInput, idSchema, projectIdSchema } from "../inputs.ts";
import { type AuthedContext, projectProcedure, router } from "../trpc.ts";

const defaultRangeMs = 30 * 24 * 3600 * 1000;
const maxRangeMs = 400 * 24 * 3600 * 1000;

function range(ctx: AuthedContext, from: Date | undefined, to: Date | undefined) {
  const end = to ?? ctx.now();
  const start = from ?? new Date(end.getTime() - defaultRangeMs);
  if (start >= end)
    throw new TRPCError({ code: "BAD_REQUEST", message: "from must be before to." });
  if (end.getTime() - start.getTime() > maxRangeMs) {
    throw new TRPCError({ code: "BAD_REQUEST", message: "The range is limited to 400 days." });
  }
  return { from: start, to: end };
}

/** Money leaves the API as decimal strings. */
function present<T extends { cost: string; inputTokens: string; outputTokens: string }>(row: T) {
  const { cost, inputTokens, outputTokens, ...rest } = row;
  return {
    ...rest,
    inputTokens: Number(inputTokens),
    outputTokens: Number(outputTokens),
    costUsd: formatUsd(BigInt(cost)),
  };
}

export const usageRouter = router({
  summary: projectProcedure(
    "viewer",
    z.strictObject({
      projectId: projectIdSchema,
      from: z.date().optional(),
      to: z.date().optional(),
      ...attributionInput,
    }),
  ).query(async ({ ctx, input }) => {
    const r = range(ctx, input.from, input.to);
    const s = await usageSummary(ctx.db, {
      projectId: input.projectId,
      endUser: input.endUser,
      tag: input.tag,
      ...r,
    });
    return {
      ...r,
      overall: present(s.overall),
      byModel: s.byModel.map(present),
      byKey: s.byKey.map(present),
    };
  }),

  /** Hourly or daily points from the rollups, one per bucket and series (model, key or provider). */
  timeseries: projectProcedure(
    "viewer",
    z.strictObject({
      projectId: projectIdSchema,
      keyId: idSchema.optional(),
      keyIds: z.array(idSchema).min(1).max(20).optional(),
      bucket: z.enum(["hour", "day"]),
      groupBy: z.enum(usageGroups).default("model"),
      from: z.date().optional(),
      to: z.date().optional(),
      ...attributionInput,
    }),
  ).query(async ({ ctx, input }) => {
    const r = range(ctx, input.from, input.to);
    const rows = await usageTimeseries(
      ctx.db,
      {
        projectId: input.projectId,
        keyId: input.keyId,
        keyIds: input.keyIds,
        endUser: input.endUser,
        tag: input.tag,
        ...r,
      },
      input.bucket,
      input.groupBy,
    );
    return { ...r, bucket: input.bucket, groupBy: input.groupBy, points: rows.map(present) };
  }),
});

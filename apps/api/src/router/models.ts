import {
  modelIdSchema,
  pricePer1MSchema,
  slugSchema,
  tierSchema,
  tokenParamSchema,
} from "@osm/policy/schemas";
import { z } from "zod";
import {
  createModel,
  deleteModel,
  importDefaultModels,
  listModelPage,
  updateModel,
} from "../domain/models.ts";
import { pageInput, projectIdSchema } from "../inputs.ts";
import { projectProcedure, router } from "../trpc.ts";

const maxOutputTokensSchema = z.number().int().min(1).max(10_000_000);
const upstreamModelSchema = z.string().trim().min(1).max(200);

export const modelsRouter = router({
  list: projectProcedure(
    "viewer",
    z.strictObject({ projectId: projectIdSchema, ...pageInput }),
  ).query(({ ctx, input }) => listModelPage(ctx, input)),

  create: projectProcedure(
    "admin",
    z.strictObject({
      projectId: projectIdSchema,
      id: modelIdSchema,
      providerId: slugSchema,
      upstreamModel: upstreamModelSchema,
      inputUsdPer1M: pricePer1MSchema,
      outputUsdPer1M: pricePer1MSchema,
      // Absent or null: cached input tokens pay the full input price.
      cachedInputUsdPer1M: pricePer1MSchema.nullable().default(null),
      tier: tierSchema,
      maxOutputTokens: maxOutputTokensSchema.default(4096),
      tokenParam: tokenParamSchema.default("max_tokens"),
      active: z.boolean().default(true),
    }),
  ).mutation(({ ctx, input }) => createModel(ctx, input)),

  update: projectProcedure(
    "admin",
    z.strictObject({
      projectId: projectIdSchema,
      id: modelIdSchema,
      providerId: slugSchema.optional(),
      upstreamModel: upstreamModelSchema.optional(),
      inputUsdPer1M: pricePer1MSchema.optional(),
      outputUsdPer1M: pricePer1MSchema.optional(),
      // null clears the cached price.
      cachedInputUsdPer1M: pricePer1MSchema.nullable().optional(),
      tier: tierSchema.optional(),
      maxOutputTokens: maxOutputTokensSchema.optional(),
      tokenParam: tokenParamSchema.optional(),
      active: z.boolean().optional(),
    }),
  ).mutation(({ ctx, input }) => updateModel(ctx, input)),

  delete: projectProcedure(
    "admin",
    z.strictObject({ projectId: projectIdSchema, id: modelIdSchema }),
  ).mutation(({ ctx, input }) => deleteModel(ctx, input.id)),

  importDefaults: projectProcedure(
    "admin",
    z.strictObject({ projectId: projectIdSchema, providerId: slugSchema.optional() }),
  ).mutation(({ ctx, input }) => importDefaultModels(ctx, input.providerId)),
});

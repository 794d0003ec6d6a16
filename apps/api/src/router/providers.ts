import { providerKinds } from "@osm/db/schema";
import { slugSchema } from "@osm/policy/schemas";
import { z } from "zod";
import {
  createProvider,
  deleteProvider,
  listProviderPage,
  updateProvider,
} from "../domain/providers.ts";
import { pageInput, projectIdSchema } from "../inputs.ts";
import { projectProcedure, router } from "../trpc.ts";

const apiKeySchema = z.string().min(1).max(4096);
const baseUrlSchema = z.string().max(2048);

export const providersRouter = router({
  list: projectProcedure(
    "viewer",
    z.strictObject({ projectId: projectIdSchema, ...pageInput }),
  ).query(({ ctx, input }) => listProviderPage(ctx, input)),

  create: projectProcedure(
    "admin",
    z.strictObject({
      projectId: projectIdSchema,
      id: slugSchema,
      kind: z.enum(providerKinds),
      baseUrl: baseUrlSchema,
      apiKey: apiKeySchema,
    }),
  ).mutation(({ ctx, input }) => createProvider(ctx, input)),

  update: projectProcedure(
    "admin",
    z.strictObject({
      projectId: projectIdSchema,
      id: slugSchema,
      baseUrl: baseUrlSchema.optional(),
      apiKey: apiKeySchema.optional(),
    }),
  ).mutation(({ ctx, input }) => updateProvider(ctx, input)),

  delete: projectProcedure(
    "admin",
    z.strictObject({ projectId: projectIdSchema, id: slugSchema }),
  ).mutation(({ ctx, input }) => deleteProvider(ctx, input.id)),
});

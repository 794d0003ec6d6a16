import { defaultPriceList, priceListDate } from "@osm/db/price-list";
import { recordAudit } from "@osm/db/queries/audit";
import {
  deleteModel,
  findModelBySlug,
  findProviderBySlug,
  insertModel,
  listModels,
  listProviders,
  updateModel,
} from "@osm/db/queries/catalog";
import { nextChangeVersion } from "@osm/db/queries/versions";
import type { ModelRow } from "@osm/db/schema";
import { formatUsd, parseUsd } from "@osm/policy/money";
import {
  modelIdSchema,
  pricePer1MSchema,
  slugSchema,
  tierSchema,
  tokenParamSchema,
} from "@osm/policy/schemas";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { auditActor } from "../audit-actor.ts";
import { pageInput, projectIdSchema } from "../inputs.ts";
import { type AuthedContext, authedProcedure, requireRole, router } from "../trpc.ts";

const maxOutputTokensSchema = z.number().int().min(1).max(10_000_000);
const upstreamModelSchema = z.string().trim().min(1).max(200);

const view = (m: ModelRow & { providerSlug: string }) => ({
  id: m.slug,
  providerId: m.providerSlug,
  upstreamModel: m.upstreamModel,
  inputUsdPer1M: formatUsd(m.inputPer1M),
  outputUsdPer1M: formatUsd(m.outputPer1M),
  cachedInputUsdPer1M: m.cachedInputPer1M === null ? null : formatUsd(m.cachedInputPer1M),
  tier: m.tier,
  maxOutputTokens: m.maxOutputTokens,
  tokenParam: m.tokenParam,
  active: m.active,
  createdAt: m.createdAt,
  updatedAt: m.updatedAt,
});

async function providerOf(ctx: AuthedContext, projectId: string, slug: string) {
  const provider = await findProviderBySlug(ctx.db, projectId, slug);
  if (!provider)
    throw new TRPCError({
      code: "BAD_REQUEST",
      message: `providerId: no provider ${slug} in this project.`,
    });
  return provider;
}

async function loadModel(ctx: AuthedContext, projectId: string, slug: string) {
  const model = await findModelBySlug(ctx.db, projectId, slug);
  if (!model) throw new TRPCError({ code: "NOT_FOUND", message: `Model ${slug} not found.` });
  return model;
}

export const modelsRouter = router({
  list: authedProcedure
    .input(z.strictObject({ projectId: projectIdSchema, ...pageInput }))
    .query(async ({ ctx, input }) => {
      await requireRole(ctx, input.projectId, "viewer");
      const page = await listModels(ctx.db, input.projectId, input);
      return { items: page.items.map(view), nextCursor: page.nextCursor };
    }),

  create: authedProcedure
    .input(
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
    )
    .mutation(async ({ ctx, input }) => {
      await requireRole(ctx, input.projectId, "admin");
      const provider = await providerOf(ctx, input.projectId, input.providerId);
      const model = await ctx.db.transaction(async (tx) => {
        const row = await insertModel(tx, {
          projectId: input.projectId,
          slug: input.id,
          providerId: provider.id,
          upstreamModel: input.upstreamModel,
          inputPer1M: input.inputUsdPer1M,
          outputPer1M: input.outputUsdPer1M,
          cachedInputPer1M: input.cachedInputUsdPer1M,
          tier: input.tier,
          maxOutputTokens: input.maxOutputTokens,
          tokenParam: input.tokenParam,
          active: input.active,
        });
        if (!row)
          throw new TRPCError({
            code: "CONFLICT",
            message: `A model with id ${input.id} exists in this project.`,
          });
        await recordAudit(tx, {
          projectId: input.projectId,
          actor: auditActor(ctx.actor),
          action: "model.create",
          targetType: "model",
          targetId: input.id,
          data: { providerId: input.providerId, upstreamModel: input.upstreamModel },
        });
        return row;
      });
      await ctx.publish({ kind: "model", id: model.id, version: model.version });
      return view({ ...model, providerSlug: provider.slug });
    }),

  update: authedProcedure
    .input(
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
    )
    .mutation(async ({ ctx, input }) => {
      await requireRole(ctx, input.projectId, "admin");
      const model = await loadModel(ctx, input.projectId, input.id);
      const provider = input.providerId
        ? await providerOf(ctx, input.projectId, input.providerId)
        : undefined;
      const updated = await ctx.db.transaction(async (tx) => {
        const row = await updateModel(
          tx,
          model.id,
          {
            providerId: provider?.id,
            upstreamModel: input.upstreamModel,
            inputPer1M: input.inputUsdPer1M,
            outputPer1M: input.outputUsdPer1M,
            cachedInputPer1M: input.cachedInputUsdPer1M,
            tier: input.tier,
            maxOutputTokens: input.maxOutputTokens,
            tokenParam: input.tokenParam,
            active: input.active,
          },
          ctx.now(),
        );
        await recordAudit(tx, {
          projectId: input.projectId,
          actor: auditActor(ctx.actor),
          action: "model.update",
          targetType: "model",
          targetId: input.id,
          data: { fields: Object.keys(input).filter((f) => f !== "id" && f !== "projectId") },
        });
        return row!;
      });
      await ctx.publish({ kind: "model", id: updated.id, version: updated.version });
      return view({ ...updated, providerSlug: provider?.slug ?? model.providerSlug });
    }),

  delete: authedProcedure
    .input(z.strictObject({ projectId: projectIdSchema, id: modelIdSchema }))
    .mutation(async ({ ctx, input }) => {
      await requireRole(ctx, input.projectId, "admin");
      const model = await loadModel(ctx, input.projectId, input.id);
      const version = await ctx.db.transaction(async (tx) => {
        await deleteModel(tx, model.id);
        await recordAudit(tx, {
          projectId: input.projectId,
          actor: auditActor(ctx.actor),
          action: "model.delete",
          targetType: "model",
          targetId: input.id,
        });
        return nextChangeVersion(tx);
      });
      await ctx.publish({ kind: "model", id: model.id, version });
      return { ok: true };
    }),

  /** Loads the shipped price list onto the project's providers of the matching kind; existing ids are kept. */
  importDefaults: authedProcedure
    .input(z.strictObject({ projectId: projectIdSchema, providerId: slugSchema.optional() }))
    .mutation(async ({ ctx, input }) => {
      await requireRole(ctx, input.projectId, "admin");
      const providers = input.providerId
        ? [await providerOf(ctx, input.projectId, input.providerId)]
        : (await listProviders(ctx.db, input.projectId, { limit: 100 })).items;
      const byKind = new Map<string, (typeof providers)[number]>();
      for (const p of providers) if (!byKind.has(p.kind)) byKind.set(p.kind, p);
      const created: ModelRow[] = [];
      let skipped = 0;
      await ctx.db.transaction(async (tx) => {
        for (const entry of defaultPriceList) {
          const provider = byKind.get(entry.kind);
          if (!provider) {
            skipped++;
            continue;
          }
          const row = await insertModel(tx, {
            projectId: input.projectId,
            slug: entry.id,
            providerId: provider.id,
            upstreamModel: entry.id,
            inputPer1M: parseUsd(entry.inputUsdPer1M)!,
            outputPer1M: parseUsd(entry.outputUsdPer1M)!,
            cachedInputPer1M:
              entry.cachedInputUsdPer1M === null ? null : parseUsd(entry.cachedInputUsdPer1M)!,
            tier: entry.tier,
            maxOutputTokens: entry.maxOutputTokens,
            tokenParam: entry.tokenParam,
          });
          if (row) created.push(row);
          else skipped++;
        }
        await recordAudit(tx, {
          projectId: input.projectId,
          actor: auditActor(ctx.actor),
          action: "model.import_defaults",
          targetType: "model",
          targetId: null,
          data: { priceListDate, imported: created.map((m) => m.slug) },
        });
      });
      for (const m of created) await ctx.publish({ kind: "model", id: m.id, version: m.version });
      return { imported: created.length, skipped, priceListDate };
    }),
});

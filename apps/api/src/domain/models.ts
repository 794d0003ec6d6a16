import { defaultPriceList, priceListDate } from "@osm/db/price-list";
import {
  deleteModel as deleteModelRow,
  findModelBySlug,
  findProviderBySlug,
  insertModel,
  listModels,
  listProviders,
  updateModel as updateModelRow,
} from "@osm/db/queries/catalog";
import { nextChangeVersion } from "@osm/db/queries/versions";
import type { ModelRow } from "@osm/db/schema";
import { formatUsd, parseUsd } from "@osm/policy/money";
import type { Tier, TokenParam } from "@osm/policy/schemas";
import { TRPCError } from "@trpc/server";
import { audited } from "../audited.ts";
import type { ProjectContext } from "../trpc.ts";

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

const invalidation = (m: ModelRow) => ({ kind: "model", id: m.id, version: m.version }) as const;

async function providerOf(ctx: ProjectContext, slug: string) {
  const provider = await findProviderBySlug(ctx.db, ctx.project.id, slug);
  if (!provider)
    throw new TRPCError({
      code: "BAD_REQUEST",
      message: `providerId: no provider ${slug} in this project.`,
    });
  return provider;
}

async function loadModel(ctx: ProjectContext, slug: string) {
  const model = await findModelBySlug(ctx.db, ctx.project.id, slug);
  if (!model) throw new TRPCError({ code: "NOT_FOUND", message: `Model ${slug} not found.` });
  return model;
}

export async function listModelPage(ctx: ProjectContext, page: { cursor?: string; limit: number }) {
  const rows = await listModels(ctx.db, ctx.project.id, page);
  return { items: rows.items.map(view), nextCursor: rows.nextCursor };
}

type Pricing = {
  upstreamModel: string;
  inputUsdPer1M: bigint;
  outputUsdPer1M: bigint;
  cachedInputUsdPer1M: bigint | null;
  tier: Tier;
  maxOutputTokens: number;
  tokenParam: TokenParam;
  active: boolean;
};

export async function createModel(
  ctx: ProjectContext,
  input: Pricing & { id: string; providerId: string },
) {
  const provider = await providerOf(ctx, input.providerId);
  const model = await audited(
    ctx,
    (row: ModelRow) => ({
      action: "model.create",
      target: { type: "model", id: input.id },
      data: { providerId: input.providerId, upstreamModel: input.upstreamModel },
      publish: invalidation(row),
    }),
    async (tx) => {
      const row = await insertModel(tx, {
        projectId: ctx.project.id,
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
      return row;
    },
  );
  return view({ ...model, providerSlug: provider.slug });
}

export async function updateModel(
  ctx: ProjectContext,
  input: Partial<Pricing> & { projectId: string; id: string; providerId?: string },
) {
  const model = await loadModel(ctx, input.id);
  const provider = input.providerId ? await providerOf(ctx, input.providerId) : undefined;
  const updated = await audited(
    ctx,
    (row: ModelRow) => ({
      action: "model.update",
      target: { type: "model", id: input.id },
      data: { fields: Object.keys(input).filter((f) => f !== "id" && f !== "projectId") },
      publish: invalidation(row),
    }),
    async (tx) => {
      const row = await updateModelRow(
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
      // Deleted by someone else since it was read.
      if (!row) throw new TRPCError({ code: "NOT_FOUND", message: `Model ${input.id} not found.` });
      return row;
    },
  );
  return view({ ...updated, providerSlug: provider?.slug ?? model.providerSlug });
}

export async function deleteModel(ctx: ProjectContext, slug: string) {
  const model = await loadModel(ctx, slug);
  await audited(
    ctx,
    (version: number) => ({
      action: "model.delete",
      target: { type: "model", id: slug },
      publish: { kind: "model", id: model.id, version },
    }),
    async (tx) => {
      await deleteModelRow(tx, model.id);
      return nextChangeVersion(tx);
    },
  );
  return { ok: true };
}

/** Loads the shipped price list onto the project's providers of the matching kind; existing ids are kept. */
export async function importDefaultModels(ctx: ProjectContext, providerSlug: string | undefined) {
  const providers = providerSlug
    ? [await providerOf(ctx, providerSlug)]
    : (await listProviders(ctx.db, ctx.project.id, { limit: 100 })).items;
  const byKind = new Map<string, (typeof providers)[number]>();
  for (const p of providers) if (!byKind.has(p.kind)) byKind.set(p.kind, p);
  const { created, skipped } = await audited(
    ctx,
    ({ created }: { created: ModelRow[]; skipped: number }) => ({
      action: "model.import_defaults",
      target: { type: "model", id: null },
      data: { priceListDate, imported: created.map((m) => m.slug) },
      publish: created.map(invalidation),
    }),
    async (tx) => {
      const created: ModelRow[] = [];
      let skipped = 0;
      for (const entry of defaultPriceList) {
        const provider = byKind.get(entry.kind);
        if (!provider) {
          skipped++;
          continue;
        }
        const row = await insertModel(tx, {
          projectId: ctx.project.id,
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
      return { created, skipped };
    },
  );
  return { imported: created.length, skipped, priceListDate };
}

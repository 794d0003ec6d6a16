import {
  countModelsOfProvider,
  deleteProvider as deleteProviderRow,
  findProviderBySlug,
  insertProvider,
  listProviders,
  updateProvider as updateProviderRow,
} from "@osm/db/queries/catalog";
import { nextChangeVersion } from "@osm/db/queries/versions";
import type { ProviderKind, ProviderRow } from "@osm/db/schema";
import { TRPCError } from "@trpc/server";
import { audited } from "../audited.ts";
import { type AuthedContext, fieldError, type ProjectContext } from "../trpc.ts";
import { checkUpstreamUrl } from "../upstream-url.ts";

/** `apiKey` is write-only: the view says whether one is set, never what it is. */
const view = (p: ProviderRow) => ({
  id: p.slug,
  kind: p.kind,
  baseUrl: p.baseUrl,
  hasApiKey: p.credential.length > 0,
  createdAt: p.createdAt,
  updatedAt: p.updatedAt,
});

const invalidation = (p: ProviderRow) =>
  ({ kind: "provider", id: p.id, version: p.version }) as const;

async function validBaseUrl(ctx: AuthedContext, raw: string): Promise<string> {
  const check = await checkUpstreamUrl(raw, ctx.config.allowPrivateUpstreams);
  if (!check.ok) throw new TRPCError({ code: "BAD_REQUEST", message: `baseUrl ${check.reason}.` });
  return check.url;
}

async function loadProvider(ctx: ProjectContext, slug: string) {
  const provider = await findProviderBySlug(ctx.db, ctx.project.id, slug);
  if (!provider) throw new TRPCError({ code: "NOT_FOUND", message: `Provider ${slug} not found.` });
  return provider;
}

export async function listProviderPage(
  ctx: ProjectContext,
  page: { cursor?: string; limit: number },
) {
  const rows = await listProviders(ctx.db, ctx.project.id, page);
  return { items: rows.items.map(view), nextCursor: rows.nextCursor };
}

export async function createProvider(
  ctx: ProjectContext,
  input: { id: string; kind: ProviderKind; baseUrl: string; apiKey: string },
) {
  const baseUrl = await validBaseUrl(ctx, input.baseUrl);
  const provider = await audited(
    ctx,
    (row: ProviderRow) => ({
      action: "provider.create",
      target: { type: "provider", id: input.id },
      data: { kind: input.kind, baseUrl },
      publish: invalidation(row),
    }),
    async (tx) => {
      const row = await insertProvider(tx, {
        projectId: ctx.project.id,
        slug: input.id,
        kind: input.kind,
        baseUrl,
        credential: ctx.box.encrypt(input.apiKey),
      });
      if (!row)
        throw new TRPCError({
          code: "CONFLICT",
          message: `A provider with id ${input.id} exists in this project.`,
        });
      return row;
    },
  );
  return view(provider);
}

export async function updateProvider(
  ctx: ProjectContext,
  input: { id: string; baseUrl?: string; apiKey?: string },
) {
  const provider = await loadProvider(ctx, input.id);
  const baseUrl = input.baseUrl === undefined ? undefined : await validBaseUrl(ctx, input.baseUrl);
  // The proxy sends the stored key to baseUrl: pointing it at another origin must not
  // hand the key to whoever runs that origin, so the key is given again with the move.
  if (
    baseUrl !== undefined &&
    input.apiKey === undefined &&
    new URL(baseUrl).origin !== new URL(provider.baseUrl).origin
  ) {
    fieldError("apiKey", "is required when baseUrl moves to another origin");
  }
  const updated = await audited(
    ctx,
    (row: ProviderRow) => ({
      action: "provider.update",
      target: { type: "provider", id: input.id },
      data: { baseUrl: baseUrl ?? null, apiKeyChanged: input.apiKey !== undefined },
      publish: invalidation(row),
    }),
    async (tx) => {
      const row = await updateProviderRow(
        tx,
        provider.id,
        {
          baseUrl,
          credential: input.apiKey === undefined ? undefined : ctx.box.encrypt(input.apiKey),
        },
        ctx.now(),
      );
      // Deleted by someone else since it was read.
      if (!row)
        throw new TRPCError({ code: "NOT_FOUND", message: `Provider ${input.id} not found.` });
      return row;
    },
  );
  return view(updated);
}

/** A provider with models stays: the models would point at nothing. */
export async function deleteProvider(ctx: ProjectContext, slug: string) {
  const provider = await loadProvider(ctx, slug);
  await audited(
    ctx,
    (version: number) => ({
      action: "provider.delete",
      target: { type: "provider", id: slug },
      publish: { kind: "provider", id: provider.id, version },
    }),
    async (tx) => {
      if ((await countModelsOfProvider(tx, provider.id)) > 0) {
        throw new TRPCError({
          code: "CONFLICT",
          message: `Provider ${slug} still has models: delete or move them first.`,
        });
      }
      await deleteProviderRow(tx, provider.id);
      return nextChangeVersion(tx);
    },
  );
  return { ok: true };
}

import { recordAudit } from "@osm/db/queries/audit";
import {
  countModelsOfProvider,
  deleteProvider,
  findProviderBySlug,
  insertProvider,
  listProviders,
  updateProvider,
} from "@osm/db/queries/catalog";
import { nextChangeVersion } from "@osm/db/queries/versions";
import { type ProviderRow, providerKinds } from "@osm/db/schema";
import { slugSchema } from "@osm/policy/schemas";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { auditActor } from "../audit-actor.ts";
import { pageInput, projectIdSchema } from "../inputs.ts";
import { type AuthedContext, authedProcedure, fieldError, requireRole, router } from "../trpc.ts";
import { checkUpstreamUrl } from "../upstream-url.ts";

const apiKeySchema = z.string().min(1).max(4096);
const baseUrlSchema = z.string().max(2048);

/** `apiKey` is write-only: the view says whether one is set, never what it is. */
const view = (p: ProviderRow) => ({
  id: p.slug,
  kind: p.kind,
  baseUrl: p.baseUrl,
  hasApiKey: p.credential.length > 0,
  createdAt: p.createdAt,
  updatedAt: p.updatedAt,
});

async function validBaseUrl(ctx: AuthedContext, raw: string): Promise<string> {
  const check = await checkUpstreamUrl(raw, ctx.config.allowPrivateUpstreams);
  if (!check.ok) throw new TRPCError({ code: "BAD_REQUEST", message: `baseUrl ${check.reason}.` });
  return check.url;
}

async function loadProvider(
  ctx: AuthedContext,
  projectId: string,
  slug: string,
  minimum: "viewer" | "admin",
) {
  await requireRole(ctx, projectId, minimum);
  const provider = await findProviderBySlug(ctx.db, projectId, slug);
  if (!provider) throw new TRPCError({ code: "NOT_FOUND", message: `Provider ${slug} not found.` });
  return provider;
}

export const providersRouter = router({
  list: authedProcedure
    .input(z.strictObject({ projectId: projectIdSchema, ...pageInput }))
    .query(async ({ ctx, input }) => {
      await requireRole(ctx, input.projectId, "viewer");
      const page = await listProviders(ctx.db, input.projectId, input);
      return { items: page.items.map(view), nextCursor: page.nextCursor };
    }),

  create: authedProcedure
    .input(
      z.strictObject({
        projectId: projectIdSchema,
        id: slugSchema,
        kind: z.enum(providerKinds),
        baseUrl: baseUrlSchema,
        apiKey: apiKeySchema,
      }),
    )
    .mutation(async ({ ctx, input }) => {
      await requireRole(ctx, input.projectId, "admin");
      const baseUrl = await validBaseUrl(ctx, input.baseUrl);
      const provider = await ctx.db.transaction(async (tx) => {
        const row = await insertProvider(tx, {
          projectId: input.projectId,
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
        await recordAudit(tx, {
          projectId: input.projectId,
          actor: auditActor(ctx.actor),
          action: "provider.create",
          targetType: "provider",
          targetId: input.id,
          data: { kind: input.kind, baseUrl },
        });
        return row;
      });
      await ctx.publish({ kind: "provider", id: provider.id, version: provider.version });
      return view(provider);
    }),

  update: authedProcedure
    .input(
      z.strictObject({
        projectId: projectIdSchema,
        id: slugSchema,
        baseUrl: baseUrlSchema.optional(),
        apiKey: apiKeySchema.optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const provider = await loadProvider(ctx, input.projectId, input.id, "admin");
      const baseUrl =
        input.baseUrl === undefined ? undefined : await validBaseUrl(ctx, input.baseUrl);
      // The proxy sends the stored key to baseUrl: pointing it at another origin must not
      // hand the key to whoever runs that origin, so the key is given again with the move.
      if (
        baseUrl !== undefined &&
        input.apiKey === undefined &&
        new URL(baseUrl).origin !== new URL(provider.baseUrl).origin
      ) {
        fieldError("apiKey", "is required when baseUrl moves to another origin");
      }
      const updated = await ctx.db.transaction(async (tx) => {
        const row = await updateProvider(
          tx,
          provider.id,
          {
            baseUrl,
            credential: input.apiKey === undefined ? undefined : ctx.box.encrypt(input.apiKey),
          },
          ctx.now(),
        );
        await recordAudit(tx, {
          projectId: input.projectId,
          actor: auditActor(ctx.actor),
          action: "provider.update",
          targetType: "provider",
          targetId: input.id,
          data: { baseUrl: baseUrl ?? null, apiKeyChanged: input.apiKey !== undefined },
        });
        return row!;
      });
      await ctx.publish({ kind: "provider", id: updated.id, version: updated.version });
      return view(updated);
    }),

  delete: authedProcedure
    .input(z.strictObject({ projectId: projectIdSchema, id: slugSchema }))
    .mutation(async ({ ctx, input }) => {
      const provider = await loadProvider(ctx, input.projectId, input.id, "admin");
      const version = await ctx.db.transaction(async (tx) => {
        if ((await countModelsOfProvider(tx, provider.id)) > 0) {
          throw new TRPCError({
            code: "CONFLICT",
            message: `Provider ${input.id} still has models: delete or move them first.`,
          });
        }
        await deleteProvider(tx, provider.id);
        await recordAudit(tx, {
          projectId: input.projectId,
          actor: auditActor(ctx.actor),
          action: "provider.delete",
          targetType: "provider",
          targetId: input.id,
        });
        return nextChangeVersion(tx);
      });
      await ctx.publish({ kind: "provider", id: provider.id, version });
      return { ok: true };
    }),
});

import { newId } from "@osm/keys/ids";
import { and, asc, count, eq, gt } from "drizzle-orm";
import type { DbOrTx } from "../client.ts";
import { type ModelRow, models, type ProviderRow, providers } from "../schema/catalog.ts";
import { nextVersion } from "../schema/columns.ts";

// Catalogs are small (tens of rows) and ordered by slug, so lists page by slug.
export type SlugPage = { cursor?: string; limit: number };

function toSlugPage<T extends { slug: string }>(rows: T[], limit: number) {
  const items = rows.slice(0, limit);
  return { items, nextCursor: rows.length > limit ? (items.at(-1)?.slug ?? null) : null };
}

export async function listProviders(db: DbOrTx, projectId: string, page: SlugPage) {
  const rows = await db
    .select()
    .from(providers)
    .where(
      and(
        eq(providers.projectId, projectId),
        page.cursor ? gt(providers.slug, page.cursor) : undefined,
      ),
    )
    .orderBy(asc(providers.slug))
    .limit(page.limit + 1);
  return toSlugPage(rows, page.limit);
}

export async function findProviderBySlug(db: DbOrTx, projectId: string, slug: string) {
  const [row] = await db
    .select()
    .from(providers)
    .where(and(eq(providers.projectId, projectId), eq(providers.slug, slug)));
  return row;
}

export async function findProviderById(db: DbOrTx, id: string) {
  const [row] = await db.select().from(providers).where(eq(providers.id, id));
  return row;
}

export async function insertProvider(
  db: DbOrTx,
  values: Pick<ProviderRow, "projectId" | "slug" | "kind" | "baseUrl" | "credential">,
) {
  const [row] = await db
    .insert(providers)
    .values({ id: newId("provider"), ...values })
    .onConflictDoNothing()
    .returning();
  return row;
}

export async function updateProvider(
  db: DbOrTx,
  id: string,
  changes: Partial<Pick<ProviderRow, "baseUrl" | "credential">>,
  now: Date,
) {
  const [row] = await db
    .update(providers)
    .set({ ...changes, updatedAt: now, version: nextVersion })
    .where(eq(providers.id, id))
    .returning();
  return row;
}

export async function countModelsOfProvider(db: DbOrTx, providerId: string) {
  const [row] = await db
    .select({ n: count() })
    .from(models)
    .where(eq(models.providerId, providerId));
  return row?.n ?? 0;
}

export async function deleteProvider(db: DbOrTx, id: string) {
  const [row] = await db.delete(providers).where(eq(providers.id, id)).returning();
  return row;
}

export async function listModels(db: DbOrTx, projectId: string, page: SlugPage) {
  const rows = await db
    .select({ model: models, providerSlug: providers.slug })
    .from(models)
    .innerJoin(providers, eq(providers.id, models.providerId))
    .where(
      and(eq(models.projectId, projectId), page.cursor ? gt(models.slug, page.cursor) : undefined),
    )
    .orderBy(asc(models.slug))
    .limit(page.limit + 1);
  const page_ = toSlugPage(
    rows.map((r) => ({ ...r.model, providerSlug: r.providerSlug })),
    page.limit,
  );
  return page_;
}

export async function findModelBySlug(db: DbOrTx, projectId: string, slug: string) {
  const [row] = await db
    .select({ model: models, providerSlug: providers.slug })
    .from(models)
    .innerJoin(providers, eq(providers.id, models.providerId))
    .where(and(eq(models.projectId, projectId), eq(models.slug, slug)));
  return row ? { ...row.model, providerSlug: row.providerSlug } : undefined;
}

export type NewModel = Pick<
  ModelRow,
  "projectId" | "slug" | "providerId" | "upstreamModel" | "inputPer1M" | "outputPer1M" | "tier"
> &
  Partial<Pick<ModelRow, "maxOutputTokens" | "tokenParam" | "active" | "cachedInputPer1M">>;

export async function insertModel(db: DbOrTx, values: NewModel) {
  const [row] = await db
    .insert(models)
    .values({ id: newId("model"), ...values })
    .onConflictDoNothing()
    .returning();
  return row;
}

export type ModelChanges = Partial<
  Pick<
    ModelRow,
    | "providerId"
    | "upstreamModel"
    | "inputPer1M"
    | "outputPer1M"
    | "cachedInputPer1M"
    | "tier"
    | "maxOutputTokens"
    | "tokenParam"
    | "active"
  >
>;

export async function updateModel(db: DbOrTx, id: string, changes: ModelChanges, now: Date) {
  const [row] = await db
    .update(models)
    .set({ ...changes, updatedAt: now, version: nextVersion })
    .where(eq(models.id, id))
    .returning();
  return row;
}

export async function deleteModel(db: DbOrTx, id: string) {
  const [row] = await db.delete(models).where(eq(models.id, id)).returning();
  return row;
}

/** Copies providers (with their sealed credentials) and models into a new project. */
export async function copyCatalog(db: DbOrTx, fromProjectId: string, toProjectId: string) {
  const sourceProviders = await db
    .select()
    .from(providers)
    .where(eq(providers.projectId, fromProjectId));
  const providerIds = new Map<string, string>();
  for (const p of sourceProviders) {
    const id = newId("provider");
    providerIds.set(p.id, id);
    await db.insert(providers).values({
      id,
      projectId: toProjectId,
      slug: p.slug,
      kind: p.kind,
      baseUrl: p.baseUrl,
      credential: p.credential,
    });
  }
  const sourceModels = await db.select().from(models).where(eq(models.projectId, fromProjectId));
  for (const m of sourceModels) {
    await db.insert(models).values({
      id: newId("model"),
      projectId: toProjectId,
      slug: m.slug,
      providerId: providerIds.get(m.providerId)!,
      upstreamModel: m.upstreamModel,
      inputPer1M: m.inputPer1M,
      outputPer1M: m.outputPer1M,
      cachedInputPer1M: m.cachedInputPer1M,
      tier: m.tier,
      maxOutputTokens: m.maxOutputTokens,
      tokenParam: m.tokenParam,
      active: m.active,
    });
  }
}

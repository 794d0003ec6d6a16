import type { Db } from "@osm/db/client";
import { findCatalogRowProject, loadProjectCatalog } from "@osm/db/queries/gateway";
import type { Invalidation } from "@osm/jobs/invalidation";
import type { CryptoBox } from "@osm/keys/crypto-box";
import type { Catalog, CatalogModel, CatalogProvider } from "@osm/policy/evaluate";
import { Lru } from "./lru.ts";
import type { SeenVersions } from "./versions.ts";

export type RoutableModel = CatalogModel & {
  upstreamModel: string;
  rowId: string;
  cachedInputPer1M: bigint | null;
};
export type RoutableProvider = CatalogProvider & { baseUrl: string; apiKey: string; rowId: string };

/** One project's catalog as evaluate() and the provider adapters read it. */
export type ProjectCatalog = {
  models: Map<string, RoutableModel>;
  providers: Map<string, RoutableProvider>;
};

// Checked here so a change to evaluate()'s Catalog shows up where the cache is built.
const _fitsEvaluate: (c: ProjectCatalog) => Catalog = (c) => c;
void _fitsEvaluate;

type Entry = { catalog: ProjectCatalog; rowIds: string[]; expiresAt: number };

const ttlMs = 60_000;

export class CatalogCache {
  private readonly byProject: Lru<string, Entry>;
  private readonly projectOfRow = new Map<string, string>();
  private readonly pending = new Map<string, Promise<ProjectCatalog>>();
  /** Read by the metrics scrape: catalog lookups, and those the cache could not answer. */
  lookups = 0;
  misses = 0;

  constructor(
    private readonly db: Db,
    private readonly box: CryptoBox,
    private readonly versions: SeenVersions,
    capacity = 10_000,
    private readonly clock: () => number = Date.now,
  ) {
    this.byProject = new Lru(capacity);
  }

  async get(projectId: string): Promise<ProjectCatalog> {
    this.lookups++;
    const entry = this.byProject.get(projectId);
    if (entry && entry.expiresAt > this.clock()) return entry.catalog;
    this.misses++;
    const inflight = this.pending.get(projectId);
    if (inflight) return inflight;
    const fill = this.fill(projectId).finally(() => this.pending.delete(projectId));
    this.pending.set(projectId, fill);
    return fill;
  }

  private async fill(projectId: string): Promise<ProjectCatalog> {
    for (let attempt = 0; ; attempt++) {
      const rows = await loadProjectCatalog(this.db, projectId);
      const stale = [...rows.models, ...rows.providers].some((r) =>
        this.versions.isStale(r.id, r.version),
      );
      if (stale && attempt < 2) continue;
      const providers = new Map<string, RoutableProvider>();
      const slugOfRow = new Map<string, string>();
      for (const p of rows.providers) {
        slugOfRow.set(p.id, p.slug);
        providers.set(p.slug, {
          id: p.slug,
          kind: p.kind,
          baseUrl: p.baseUrl,
          apiKey: this.box.decrypt(p.credential),
          rowId: p.id,
        });
      }
      const models = new Map<string, RoutableModel>();
      for (const m of rows.models) {
        models.set(m.slug, {
          id: m.slug,
          providerId: slugOfRow.get(m.providerId) ?? "",
          tier: m.tier,
          inputPer1M: m.inputPer1M,
          outputPer1M: m.outputPer1M,
          cachedInputPer1M: m.cachedInputPer1M,
          active: m.active,
          maxOutputTokens: m.maxOutputTokens,
          tokenParam: m.tokenParam,
          upstreamModel: m.upstreamModel,
          rowId: m.id,
        });
      }
      const catalog: ProjectCatalog = { models, providers };
      const rowIds = [...rows.models.map((m) => m.id), ...rows.providers.map((p) => p.id)];
      if (!stale) {
        for (const id of rowIds) this.projectOfRow.set(id, projectId);
        this.byProject.set(projectId, { catalog, rowIds, expiresAt: this.clock() + ttlMs });
      }
      return catalog;
    }
  }

  /** Drops the catalog of the project the changed row belongs to. */
  async apply(invalidation: Invalidation): Promise<void> {
    if (invalidation.kind === "project") {
      this.drop(invalidation.id);
      return;
    }
    if (invalidation.kind !== "model" && invalidation.kind !== "provider") return;
    const projectId =
      this.projectOfRow.get(invalidation.id) ??
      (await findCatalogRowProject(this.db, invalidation.kind, invalidation.id));
    if (projectId) this.drop(projectId);
  }

  clear(): void {
    this.byProject.clear();
    this.projectOfRow.clear();
  }

  private drop(projectId: string): void {
    const entry = this.byProject.get(projectId);
    if (entry) for (const id of entry.rowIds) this.projectOfRow.delete(id);
    this.byProject.delete(projectId);
  }
}

import type { Db } from "@osm/db/client";
import { findKeyById, findKeyBySecretHash } from "@osm/db/queries/gateway";
import type { ApiKeyRow } from "@osm/db/schema";
import type { Invalidation } from "@osm/jobs/invalidation";
import type { KeyPolicy } from "@osm/policy/schemas";
import { Lru } from "./lru.ts";
import type { SeenVersions } from "./versions.ts";

/** What the hot path needs of a key; no hash or secret is kept in it. */
export type CachedKey = {
  id: string;
  projectId: string;
  enabled: boolean;
  limitReached: boolean;
  revokedAt: Date | null;
  expiresAt: Date | null;
  policy: KeyPolicy;
  spendLimit: bigint | null;
  budgetPeriod: ApiKeyRow["budgetPeriod"];
  spendResetAt: Date | null;
  version: number;
  /** Set when this entry was found through the previous secret: valid until then. */
  previousSecretUntil: Date | null;
};

type Entry = { key: CachedKey | null; expiresAt: number };

// Invalidations arrive within milliseconds; the lifetime only bounds staleness if a message
// is ever lost (e.g. while the subscriber reconnects).
const positiveTtlMs = 60_000;
const negativeTtlMs = 5_000;

export function toCachedKey(row: ApiKeyRow, secretHash: string | null): CachedKey {
  const viaPrevious = secretHash !== null && row.secretHash !== secretHash;
  return {
    id: row.id,
    projectId: row.projectId,
    enabled: row.enabled,
    limitReached: row.limitReached,
    revokedAt: row.revokedAt,
    expiresAt: row.expiresAt,
    policy: (row.policy ?? {}) as KeyPolicy,
    spendLimit: row.spendLimit,
    budgetPeriod: row.budgetPeriod,
    spendResetAt: row.spendResetAt,
    version: row.version,
    previousSecretUntil: viaPrevious ? row.graceUntil : null,
  };
}

export class KeyCache {
  private readonly byHash: Lru<string, Entry>;
  private readonly hashesById = new Map<string, Set<string>>();
  private readonly pending = new Map<string, Promise<CachedKey | null>>();
  /** Read by the metrics scrape: lookups by secret, and those the cache could not answer. */
  lookups = 0;
  misses = 0;

  constructor(
    private readonly db: Db,
    private readonly versions: SeenVersions,
    capacity = 100_000,
    private readonly clock: () => number = Date.now,
  ) {
    this.byHash = new Lru(capacity);
  }

  /** True when lookup() would answer without a new database read. */
  isCached(secretHash: string): boolean {
    const entry = this.byHash.get(secretHash);
    return (entry !== undefined && entry.expiresAt > this.clock()) || this.pending.has(secretHash);
  }

  /** The key for a secret hash; one database read per hash however many requests wait on it. */
  async lookup(secretHash: string): Promise<CachedKey | null> {
    this.lookups++;
    const entry = this.byHash.get(secretHash);
    if (entry && entry.expiresAt > this.clock()) return entry.key;
    this.misses++;
    const inflight = this.pending.get(secretHash);
    if (inflight) return inflight;
    const fill = this.fill(secretHash).finally(() => this.pending.delete(secretHash));
    this.pending.set(secretHash, fill);
    return fill;
  }

  private async fill(secretHash: string): Promise<CachedKey | null> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const row = await findKeyBySecretHash(this.db, secretHash, new Date(this.clock()));
      if (!row) {
        this.byHash.set(secretHash, { key: null, expiresAt: this.clock() + negativeTtlMs });
        return null;
      }
      // A change committed while we read: read again rather than cache the old state.
      if (this.versions.isStale(row.id, row.version)) continue;
      const expiresAt = this.clock() + positiveTtlMs;
      const expired = this.byHash.get(secretHash);
      // Every change to a key bumps its version: the same id and version is the same content.
      // Renewing the expired entry keeps the long-lived objects it holds instead of replacing
      // them, so keys refilled after their lifetime leave no old-generation garbage behind.
      if (expired?.key && expired.key.id === row.id && expired.key.version === row.version) {
        expired.expiresAt = expiresAt;
        return expired.key;
      }
      const key = toCachedKey(row, secretHash);
      this.byHash.set(secretHash, { key, expiresAt });
      const hashes = this.hashesById.get(row.id) ?? new Set<string>();
      hashes.add(secretHash);
      this.hashesById.set(row.id, hashes);
      return key;
    }
    const row = await findKeyBySecretHash(this.db, secretHash, new Date(this.clock()));
    return row ? toCachedKey(row, secretHash) : null;
  }

  /** Fresh state of one key, for deciding whether its in-flight requests must end. */
  async current(id: string): Promise<CachedKey | null> {
    const row = await findKeyById(this.db, id);
    return row ? toCachedKey(row, null) : null;
  }

  apply(invalidation: Invalidation): void {
    if (invalidation.kind === "project") {
      this.dropProject(invalidation.id);
      return;
    }
    if (invalidation.kind !== "key") return;
    if (invalidation.event === "created") this.dropNegative();
    const hashes = this.hashesById.get(invalidation.id);
    if (!hashes) return;
    for (const hash of hashes) this.byHash.delete(hash);
    this.hashesById.delete(invalidation.id);
  }

  /** A lost pub/sub connection may have lost messages: forget everything. */
  clear(): void {
    this.byHash.clear();
    this.hashesById.clear();
  }

  private dropProject(projectId: string): void {
    const hashes: string[] = [];
    for (const [hash, entry] of this.byHash.entries())
      if (entry.key?.projectId === projectId) hashes.push(hash);
    for (const hash of hashes) {
      const id = this.byHash.get(hash)?.key?.id;
      this.byHash.delete(hash);
      if (id) this.hashesById.delete(id);
    }
  }

  private dropNegative(): void {
    const negatives: string[] = [];
    for (const [hash, entry] of this.byHash.entries()) if (entry.key === null) negatives.push(hash);
    for (const hash of negatives) this.byHash.delete(hash);
  }
}

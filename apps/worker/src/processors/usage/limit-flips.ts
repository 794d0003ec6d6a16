import type { Db } from "@osm/db/client";
import { flaggableKeys, flagLimitReached } from "@osm/db/queries/limits";
import type { UsageEvent } from "@osm/jobs/usage-event";
import type { Logger } from "pino";
import type { Publish } from "../../invalidations.ts";

/**
 * After a batch lands: every key that spent or was refused for its limit is checked, and one
 * that hit its limit is flagged (compare-and-set), audited and announced to the proxies.
 */
export async function flipLimits(
  deps: { db: Db; publish: Publish; log: Logger; now: () => Date },
  events: UsageEvent[],
) {
  const latest = new Map<string, { at: Date; refusedAt: bigint | null }>();
  for (const e of events) {
    if (!e.limitHit && e.costNanos === "0") continue;
    const at = new Date(e.admittedAt);
    const seen = latest.get(e.keyId);
    latest.set(e.keyId, {
      at: seen && seen.at > at ? seen.at : at,
      refusedAt: e.limitHit && e.limitNanos ? BigInt(e.limitNanos) : (seen?.refusedAt ?? null),
    });
  }
  if (latest.size === 0) return 0;
  // One query narrows the batch to keys that can still be flagged (most keys have no limit)
  // and reads their rows, which the flag check then needs no second read for.
  const candidates = new Map(
    (await flaggableKeys(deps.db, [...latest.keys()])).map((k) => [k.id, k]),
  );
  let flagged = 0;
  for (const [keyId, { at, refusedAt }] of latest) {
    const loaded = candidates.get(keyId);
    if (!loaded) continue;
    const result = await flagLimitReached(deps.db, {
      keyId,
      loaded,
      at,
      now: deps.now(),
      refusedAtLimit: refusedAt,
    });
    if (!result) continue;
    flagged++;
    await deps.publish({ kind: "key", id: keyId, version: result.version, event: "changed" });
    deps.log.info({ keyId, projectId: result.projectId }, "key reached its spending limit");
  }
  return flagged;
}

import type { Db } from "@osm/db/client";
import { deleteExpiredRotations } from "@osm/db/queries/keys";
import { clearEndedGraces, resetDueWindows } from "@osm/db/queries/limits";
import type { Logger } from "pino";
import type { Publish } from "../../invalidations.ts";
import { type ReconcileResult, reconcileCounters } from "./reconcile.ts";
import type { LedgerRetention } from "./retention.ts";

export type HousekeepingResult = {
  windowResets: number;
  gracesEnded: number;
  reconciled?: ReconcileResult;
  /** Ledger rows of expired days dropped by this pass (OSM_LOG_RETENTION_DAYS). */
  ledgerRowsDropped: number;
  /** Saved rotation secrets past their 24 h replay window, deleted by this pass. */
  rotationSecretsDropped: number;
};

/**
 * One housekeeping pass at `now` (tests pass an injected clock). Idempotent: a worker that
 * starts after a boundary catches up, and several workers running it clear each key once per
 * window (recorded in window_resets).
 */
export async function runHousekeeping(
  deps: {
    db: Db;
    publish: Publish;
    log: Logger;
    reconcile?: Parameters<typeof reconcileCounters>[0];
    retention?: LedgerRetention;
  },
  now: Date,
): Promise<HousekeepingResult> {
  const resets = await resetDueWindows(deps.db, now);
  for (const r of resets)
    await deps.publish({ kind: "key", id: r.keyId, version: r.version, event: "changed" });
  const graces = await clearEndedGraces(deps.db, now);
  for (const g of graces)
    await deps.publish({ kind: "key", id: g.keyId, version: g.version, event: "changed" });
  if (resets.length || graces.length) {
    deps.log.info({ windowResets: resets.length, gracesEnded: graces.length }, "housekeeping pass");
  }
  // A replayable rotation keeps its secret (sealed) for 24 h; past that nothing may hold it.
  const rotationSecretsDropped = await deleteExpiredRotations(deps.db, now);
  const reconciled = deps.reconcile ? await reconcileCounters(deps.reconcile, now) : undefined;
  // Last: on the first pass of a day it may take a while, and nothing above waits for it.
  const ledgerRowsDropped = deps.retention ? await deps.retention(now) : 0;
  return {
    windowResets: resets.length,
    gracesEnded: graces.length,
    reconciled,
    ledgerRowsDropped,
    rotationSecretsDropped,
  };
}

import type { Db } from "@osm/db/client";
import { dropExpiredLedgerDays, ledgerRetentionCutoff } from "@osm/db/queries/retention";
import type { Logger } from "pino";

/** One retention step at `now`; resolves to the ledger rows dropped. */
export type LedgerRetention = (now: Date) => Promise<number>;

/**
 * Ledger retention for the housekeeping pass (OSM_LOG_RETENTION_DAYS). The cutoff moves once a
 * UTC day, so after a pass that completed for a cutoff this process skips until the next one:
 * every other pass of the day costs nothing. A pass that failed is tried again on the next tick.
 */
export function createLedgerRetention(deps: {
  db: Db;
  log: Logger;
  retentionDays: number;
}): LedgerRetention {
  let doneFor: number | undefined;
  return async (now) => {
    const cutoff = ledgerRetentionCutoff(now, deps.retentionDays);
    if (doneFor === cutoff.getTime()) return 0;
    const started = performance.now();
    const dropped = await dropExpiredLedgerDays(deps.db, now, deps.retentionDays);
    doneFor = cutoff.getTime();
    if (dropped > 0)
      deps.log.info(
        {
          ledgerRowsDropped: dropped,
          before: cutoff.toISOString(),
          ms: Math.round(performance.now() - started),
        },
        "retention: dropped expired ledger days",
      );
    return dropped;
  };
}

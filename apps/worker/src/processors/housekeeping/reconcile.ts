import type { BudgetCounters } from "@osm/budget/counters";
import { budgetWindow } from "@osm/budget/redis-key-names";
import type { Db } from "@osm/db/client";
import { keysWithLimits, settledSpend } from "@osm/db/queries/keys";
import { spendWindow } from "@osm/policy/windows";
import type { Logger } from "pino";
import type { Counter } from "prom-client";

export type ReconcileResult = {
  keysChecked: number;
  countersRaised: number;
  reservationsExpired: number;
};

const page = 500;

/**
 * Compares every limited key's live counter with PostgreSQL's settled spend: a counter below
 * it (Redis lost settlements) is raised, never lowered; reservations of crashed requests past
 * their deadline are released. What it fixed is counted and logged.
 */
export async function reconcileCounters(
  deps: { db: Db; counters: BudgetCounters; log: Logger; repairs: Counter<"kind"> },
  now: Date,
): Promise<ReconcileResult> {
  const result: ReconcileResult = { keysChecked: 0, countersRaised: 0, reservationsExpired: 0 };
  let cursor: string | undefined;
  for (;;) {
    const keys = await keysWithLimits(deps.db, cursor, page);
    if (keys.length === 0) break;
    cursor = keys.at(-1)!.id;
    const settled = await settledSpend(
      deps.db,
      new Map(keys.map((k) => [k.id, spendWindow(k, now)])),
    );
    for (const key of keys) {
      const window = budgetWindow(key.budgetPeriod, key.spendResetAt, now);
      const pg = settled.get(key.id)?.window ?? 0n;
      const fixed = await deps.counters.reconcile(key.id, window.id, pg, now.getTime());
      result.keysChecked++;
      if (fixed.raisedBy > 0n) {
        result.countersRaised++;
        deps.repairs.inc({ kind: "counter_raised" });
        deps.log.warn(
          { keyId: key.id, raisedByNanos: fixed.raisedBy.toString() },
          "reconcile: counter below settled spend, raised",
        );
      }
      if (fixed.expiredReservations > 0) {
        result.reservationsExpired += fixed.expiredReservations;
        deps.repairs.inc({ kind: "reservation_expired" }, fixed.expiredReservations);
        deps.log.info(
          { keyId: key.id, expired: fixed.expiredReservations },
          "reconcile: released reservations of crashed requests",
        );
      }
    }
    if (keys.length < page) break;
  }
  return result;
}

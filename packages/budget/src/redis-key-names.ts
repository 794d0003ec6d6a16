import type { BudgetPeriod } from "@osm/policy/schemas";
import { windowEnd, windowId, windowStart } from "@osm/policy/windows";

/**
 * Where one API key's counters live. Every name carries the key id as a Redis Cluster hash
 * tag, so one admission script touches one slot. Counters are per budget window (and per spend
 * reset inside it): a new window is simply a new name, no job has to zero anything.
 */
export type KeyCounters = {
  budget: string;
  reservationDeadlines: string;
  reservationAmounts: string;
  requestLog: string;
  tokenLog: string;
  tokenAmounts: string;
  tokenTotal: string;
};

export type BudgetWindow = {
  id: string;
  start: Date;
  end: Date | null;
  /** Seconds the window's counters are kept after it ends (none: kept). */
  ttlSeconds: number;
};

// Kept two days past the end so late settlements of requests admitted in the window still land.
const keepAfterEndSeconds = 2 * 24 * 3600;

export function budgetWindow(
  period: BudgetPeriod,
  spendResetAt: Date | null,
  now: Date,
): BudgetWindow {
  const start = windowStart(period, now);
  const end = windowEnd(period, now);
  const reset = spendResetAt && spendResetAt >= start && spendResetAt <= now ? spendResetAt : null;
  const id = windowId(period, now) + (reset ? `.r${reset.getTime()}` : "");
  const ttlSeconds = end
    ? Math.ceil((end.getTime() - now.getTime()) / 1000) + keepAfterEndSeconds
    : -1;
  return { id, start: reset ?? start, end, ttlSeconds };
}

export function keyCounters(prefix: string, keyId: string, windowIdValue: string): KeyCounters {
  const base = `${prefix}{${keyId}}`;
  return {
    budget: `${base}:budget:${windowIdValue}`,
    reservationDeadlines: `${base}:resv-at:${windowIdValue}`,
    reservationAmounts: `${base}:resv:${windowIdValue}`,
    requestLog: `${base}:rpm`,
    tokenLog: `${base}:tpm`,
    tokenAmounts: `${base}:tpm-v`,
    tokenTotal: `${base}:tpm-t`,
  };
}

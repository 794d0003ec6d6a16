import type { BudgetPeriod } from "@osm/policy/schemas";
import { type SpendWindow, spendWindow, windowId } from "@osm/policy/windows";

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

export type BudgetWindow = SpendWindow & {
  /** The counters' name part: the calendar window, and the reset inside it if any. */
  id: string;
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
  const window = spendWindow({ budgetPeriod: period, spendResetAt }, now);
  const reset = window.resetAt;
  const id = windowId(period, now) + (reset ? `.r${reset.getTime()}` : "");
  const ttlSeconds = window.end
    ? Math.ceil((window.end.getTime() - now.getTime()) / 1000) + keepAfterEndSeconds
    : -1;
  // Listed, not spread, on every metered request: docs/performance.md, "Slow paths of V8".
  return { start: window.start, end: window.end, resetAt: window.resetAt, id, ttlSeconds };
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

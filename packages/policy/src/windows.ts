import type { BudgetPeriod } from "./types.ts";

// Budget windows are calendar-aligned in UTC (contract: day 00:00, ISO week Monday 00:00,
// month 1st 00:00) so every proxy and worker computes the same window from the same instant,
// whatever its local time zone.

export { type BudgetPeriod, BudgetPeriods } from "./types.ts";

const EPOCH = 0;
const DAY_MS = 86_400_000;

// An invalid Date would silently produce "NaN" windows and Redis keys that never match.
function assertValid(now: Date): number {
  const time = now.getTime();
  if (Number.isNaN(time)) throw new RangeError("Invalid Date");
  return time;
}

export function windowStart(period: BudgetPeriod, now: Date): Date {
  const time = assertValid(now);
  switch (period) {
    case "none":
      return new Date(EPOCH);
    case "daily":
      return new Date(time - (((time % DAY_MS) + DAY_MS) % DAY_MS));
    case "weekly": {
      // getUTCDay: Sunday is 0; ISO weeks start on Monday.
      const daysSinceMonday = (now.getUTCDay() + 6) % 7;
      return new Date(
        Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - daysSinceMonday),
      );
    }
    case "monthly":
      return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  }
}

// The next window's start, i.e. when the spend resets; `null` for a budget that never resets.
export function windowEnd(period: BudgetPeriod, now: Date): Date | null {
  const start = windowStart(period, now);
  switch (period) {
    case "none":
      return null;
    case "daily":
      return new Date(start.getTime() + DAY_MS);
    case "weekly":
      return new Date(start.getTime() + 7 * DAY_MS);
    case "monthly":
      return new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1));
  }
}

/** A key's budget window at an instant, with the spend reset inside it if there was one. */
export type SpendWindow = { start: Date; end: Date | null; resetAt: Date | null };

/**
 * The one rule for "which spend counts": the calendar window containing `at`, and a spend reset
 * only while it lies inside that window and not after `at` (a reset stamped by a clock ahead of
 * this one is not in effect yet; a reset from an earlier window is superseded by the new one).
 */
export function spendWindow(
  key: { budgetPeriod: BudgetPeriod; spendResetAt: Date | null },
  at: Date,
): SpendWindow {
  const start = windowStart(key.budgetPeriod, at);
  const end = windowEnd(key.budgetPeriod, at);
  const reset = key.spendResetAt;
  const resetAt = reset && reset >= start && reset <= at ? reset : null;
  return { start, end, resetAt };
}

/** Where counting starts: the reset if the window has one, else the window's start. */
export function countedFrom(window: SpendWindow): Date {
  return window.resetAt ?? window.start;
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, "0");
}

function ymd(date: Date): string {
  return pad(date.getUTCFullYear(), 4) + pad(date.getUTCMonth() + 1, 2) + pad(date.getUTCDate(), 2);
}

/**
 * A compact id for the window containing `at`, used in Redis key names: "all", "d20261127",
 * "w20261123" (the Monday), "m202611". Any instant of the window gives the same id, so
 * passing the window's start or `now` are equivalent.
 */
export function windowId(period: BudgetPeriod, at: Date): string {
  const start = windowStart(period, at);
  switch (period) {
    case "none":
      return "all";
    case "daily":
      return "d" + ymd(start);
    case "weekly":
      return "w" + ymd(start);
    case "monthly":
      return "m" + pad(start.getUTCFullYear(), 4) + pad(start.getUTCMonth() + 1, 2);
  }
}

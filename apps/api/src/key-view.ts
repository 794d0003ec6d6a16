import type { BudgetCounters } from "@osm/budget/counters";
import { budgetWindow } from "@osm/budget/redis-key-names";
import type { Db } from "@osm/db/client";
import { settledSpend } from "@osm/db/queries/keys";
import type { ApiKeyRow } from "@osm/db/schema";
import { keyStatus } from "@osm/policy/key-status";
import { formatUsd } from "@osm/policy/money";
import type { KeyPolicy } from "@osm/policy/schemas";
import { spendWindow, windowEnd } from "@osm/policy/windows";

/** A key as the API returns it: derived status and live spend, never a hash or a secret. */
export type KeyView = {
  id: string;
  projectId: string;
  label: string;
  display: string;
  status: ReturnType<typeof keyStatus>;
  enabled: boolean;
  spendUsd: string;
  reservedUsd: string;
  lifetimeSpendUsd: string;
  spendLimitUsd: string | null;
  budgetPeriod: ApiKeyRow["budgetPeriod"];
  windowResetsAt: Date | null;
  policy: KeyPolicy;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  createdAt: Date;
  rotation: { graceUntil: Date } | null;
};

/**
 * Live spend and reservations from the proxies' Redis counters (keys with a limit); PostgreSQL's
 * settled totals where Redis holds no counter or cannot be reached.
 */
async function liveSpend(counters: BudgetCounters, rows: ApiKeyRow[], now: Date) {
  const live = new Map<string, { spent: bigint; reserved: bigint }>();
  await Promise.all(
    rows
      .filter((k) => k.spendLimit !== null)
      .map(async (k) => {
        const window = budgetWindow(k.budgetPeriod, k.spendResetAt, now);
        const value = await counters.read(k.id, window.id).catch(() => null);
        if (value) live.set(k.id, value);
      }),
  );
  return live;
}

export async function keyViews(
  db: Db,
  counters: BudgetCounters,
  rows: ApiKeyRow[],
  now: Date,
): Promise<KeyView[]> {
  const [spend, live] = await Promise.all([
    settledSpend(db, new Map(rows.map((k) => [k.id, spendWindow(k, now)]))),
    liveSpend(counters, rows, now),
  ]);
  return rows.map((key) => {
    const settled = spend.get(key.id) ?? { window: 0n, lifetime: 0n };
    const counter = live.get(key.id);
    // Redis counts settlements the worker may not have written yet; never show less than either.
    const windowSpend = counter && counter.spent > settled.window ? counter.spent : settled.window;
    const s = { window: windowSpend, lifetime: settled.lifetime + (windowSpend - settled.window) };
    return {
      id: key.id,
      projectId: key.projectId,
      label: key.label,
      display: key.display,
      status: keyStatus(key, now),
      enabled: key.enabled,
      spendUsd: formatUsd(s.window),
      reservedUsd: formatUsd(counter?.reserved ?? 0n),
      lifetimeSpendUsd: formatUsd(s.lifetime),
      spendLimitUsd: key.spendLimit === null ? null : formatUsd(key.spendLimit),
      budgetPeriod: key.budgetPeriod,
      windowResetsAt: windowEnd(key.budgetPeriod, now),
      policy: key.policy as KeyPolicy,
      expiresAt: key.expiresAt,
      lastUsedAt: key.lastUsedAt,
      createdAt: key.createdAt,
      rotation:
        key.graceUntil && key.graceUntil > now && key.previousSecretHash
          ? { graceUntil: key.graceUntil }
          : null,
    };
  });
}

export async function keyView(
  db: Db,
  counters: BudgetCounters,
  row: ApiKeyRow,
  now: Date,
): Promise<KeyView> {
  return (await keyViews(db, counters, [row], now))[0]!;
}

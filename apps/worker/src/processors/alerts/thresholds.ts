import type { Db } from "@osm/db/client";
import {
  alertCandidates,
  alertThresholds,
  deliveriesInWindows,
  recordThresholdCrossed,
} from "@osm/db/queries/alert-deliveries";
import { settledSpend } from "@osm/db/queries/keys";
import type { UsageEvent } from "@osm/jobs/usage-event";
import { formatUsd } from "@osm/policy/money";
import { countedFrom, spendWindow } from "@osm/policy/windows";
import type { Logger } from "pino";
import type { EnqueueDelivery } from "../../queues/alerts.ts";

/** The window an alert is sent once per: the budget window, or its part since a spend reset. */

/**
 * After a batch lands (and after limit flips): every key of the batch that spent or was refused
 * for its limit, has a limit and a project webhook, is checked against 50, 80 and 100 % of its
 * limit in the current window. A threshold crossed for the first time in the window gets one
 * alert_deliveries row (unique per key, threshold and window, so racing workers agree) and one
 * delivery job. A delivery still pending is enqueued again under the same job id, which is a
 * no-op while its job exists and repairs a crash between the insert and the enqueue.
 */
export async function checkAlertThresholds(
  deps: { db: Db; enqueue: EnqueueDelivery; log: Logger; now: () => Date },
  events: UsageEvent[],
): Promise<number> {
  const keyIds = [
    ...new Set(events.filter((e) => e.limitHit || e.costNanos !== "0").map((e) => e.keyId)),
  ];
  const keys = await alertCandidates(deps.db, keyIds);
  if (keys.length === 0) return 0;
  const now = deps.now();
  const windows = new Map(keys.map((k) => [k.id, spendWindow(k, now)]));
  const spend = await settledSpend(deps.db, windows);
  const existing = await deliveriesInWindows(
    deps.db,
    keys.map((k) => ({ keyId: k.id, windowStart: countedFrom(windows.get(k.id)!) })),
  );

  let created = 0;
  for (const key of keys) {
    const window = windows.get(key.id)!;
    const windowStart = countedFrom(window);
    const limit = key.spendLimit!;
    const spent = spend.get(key.id)?.window ?? 0n;
    // A key refused because not even the smallest request fits has hit its limit too.
    const flagged = key.limitReached && key.limitWindowStart?.getTime() === window.start.getTime();
    for (const threshold of alertThresholds) {
      const crossed =
        (limit > 0n && spent * 100n >= limit * BigInt(threshold)) || (threshold === 100 && flagged);
      if (!crossed) continue;
      const seen = existing.find((d) => d.keyId === key.id && d.threshold === threshold);
      if (seen) {
        if (seen.status === "pending") await deps.enqueue(seen.id);
        continue;
      }
      const id = await recordThresholdCrossed(deps.db, {
        projectId: key.projectId,
        keyId: key.id,
        threshold,
        windowStart,
        payload: (deliveryId) => ({
          id: deliveryId,
          type: "budget.threshold",
          projectId: key.projectId,
          keyId: key.id,
          threshold,
          spentUsd: formatUsd(spent),
          limitUsd: formatUsd(limit),
          windowStart: windowStart.toISOString(),
          windowEnd: window.end?.toISOString() ?? null,
        }),
      });
      // Null: another worker recorded it first, and enqueues it.
      if (!id) continue;
      created++;
      await deps.enqueue(id);
      deps.log.info(
        { keyId: key.id, projectId: key.projectId, threshold, deliveryId: id },
        "key crossed a budget alert threshold",
      );
    }
  }
  return created;
}

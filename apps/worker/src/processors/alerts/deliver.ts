import type { Db } from "@osm/db/client";
import {
  type DeliveryAttempt,
  findDeliveryWithSettings,
  recordDeliveryAttempt,
} from "@osm/db/queries/alert-deliveries";
import { jobNames } from "@osm/jobs/queues";
import type { CryptoBox } from "@osm/keys/crypto-box";
import {
  type LookupFn,
  postWebhook,
  signatureHeader,
  signWebhook,
  WebhookError,
} from "@osm/net/webhook";
import { type Job, UnrecoverableError } from "bullmq";
import type { Logger } from "pino";

export type AlertDeliveryDeps = {
  db: Db;
  /** Opens the signing secret sealed with OSM_SECRET. */
  box: CryptoBox;
  allowPrivate: boolean;
  /** Bounds one attempt, connection to end of response. */
  timeoutMs: number;
  log: Logger;
  now: () => Date;
  lookup?: LookupFn;
};

export type DeliveryOutcome =
  | { status: "delivered"; responseStatus: number }
  | { status: "skipped"; reason: string };

const deliveryIdOf = (data: unknown) =>
  typeof data === "object" && data !== null && "deliveryId" in data
    ? (data as { deliveryId: unknown }).deliveryId
    : undefined;

/**
 * Sends one delivery: signs the stored payload with the project's secret and POSTs it. A 2xx
 * marks it delivered; anything else records the attempt and throws, so that BullMQ retries with
 * the backoff of alertJobOptions; the last failed attempt marks it failed. A delivery no longer
 * pending (a redelivered job) is not sent again. The secret is never logged or stored.
 */
export function createAlertDeliveryProcessor(deps: AlertDeliveryDeps) {
  return async (job: Job<unknown, unknown>): Promise<DeliveryOutcome> => {
    if (job.name !== jobNames.alertDelivery)
      throw new UnrecoverableError(`unknown job name on the alerts queue: ${job.name}`);
    const deliveryId = deliveryIdOf(job.data);
    if (typeof deliveryId !== "string" || deliveryId === "")
      throw new UnrecoverableError("alert delivery job without a deliveryId");

    const row = await findDeliveryWithSettings(deps.db, deliveryId);
    // Gone with its project, or already settled by an earlier run of this job.
    if (!row) return { status: "skipped", reason: "gone" };
    if (row.status !== "pending") return { status: "skipped", reason: row.status };
    const final = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    const fail = async (attempt: Omit<Extract<DeliveryAttempt, { ok: false }>, "ok">) => {
      await recordDeliveryAttempt(deps.db, deliveryId, { ok: false, ...attempt });
    };

    if (!row.url || !row.sealedSecret) {
      await fail({ responseStatus: null, error: "the project has no webhook", final: true });
      throw new UnrecoverableError("alert delivery: the project has no webhook");
    }
    let secret: string;
    try {
      secret = deps.box.decrypt(row.sealedSecret);
    } catch {
      const error = "the signing secret cannot be opened with this OSM_SECRET";
      await fail({ responseStatus: null, error, final: true });
      throw new UnrecoverableError(`alert delivery: ${error}`);
    }

    const body = JSON.stringify(row.payload);
    const timestamp = Math.floor(deps.now().getTime() / 1000);
    let responseStatus: number;
    try {
      responseStatus = await postWebhook(
        row.url,
        body,
        {
          "content-type": "application/json",
          "user-agent": "osm-alerts/1",
          "osm-event": "budget.threshold",
          "osm-delivery-id": deliveryId,
          [signatureHeader]: signWebhook(secret, timestamp, body),
        },
        { allowPrivate: deps.allowPrivate, timeoutMs: deps.timeoutMs, lookup: deps.lookup },
      );
    } catch (err) {
      const error = err instanceof WebhookError ? err.message : "webhook request failed";
      await fail({ responseStatus: null, error, final });
      throw new Error(`alert delivery ${deliveryId}: ${error}`);
    }
    if (responseStatus < 200 || responseStatus > 299) {
      const error = `webhook answered HTTP ${responseStatus}`;
      await fail({ responseStatus, error, final });
      throw new Error(`alert delivery ${deliveryId}: ${error}`);
    }
    await recordDeliveryAttempt(deps.db, deliveryId, {
      ok: true,
      responseStatus,
      at: deps.now(),
    });
    deps.log.info(
      { deliveryId, projectId: row.projectId, attempt: job.attemptsMade + 1, responseStatus },
      "alert delivered",
    );
    return { status: "delivered", responseStatus };
  };
}

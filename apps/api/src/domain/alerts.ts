import { randomBytes } from "node:crypto";
import { getAlertSettings, upsertAlertSettings } from "@osm/db/queries/alerts";
import { newId } from "@osm/keys/ids";
import { postWebhook, signatureHeader, signWebhook, WebhookError } from "@osm/net/webhook";
import { TRPCError } from "@trpc/server";
import { audited } from "../audited.ts";
import { redactUrl } from "../redact-url.ts";
import type { ProjectContext } from "../trpc.ts";
import { checkUpstreamUrl } from "../upstream-url.ts";

/** Sets the webhook; the new signing secret is returned once, and sealed at rest. */
export async function setAlertWebhook(ctx: ProjectContext, url: string) {
  const check = await checkUpstreamUrl(url, ctx.config.allowPrivateUpstreams);
  if (!check.ok) throw new TRPCError({ code: "BAD_REQUEST", message: `url ${check.reason}.` });
  const signingSecret = `whsec_${randomBytes(24).toString("base64url")}`;
  await audited(
    ctx,
    {
      action: "alerts.set",
      target: { type: "alerts", id: ctx.project.id },
      data: { url: redactUrl(check.url) },
    },
    (tx) =>
      upsertAlertSettings(tx, ctx.project.id, check.url, ctx.box.encrypt(signingSecret), ctx.now()),
  );
  return { url: check.url, signingSecret };
}

// The worker's bound for a delivery (docs/alerts.md): a test answers within the same time.
const testTimeoutMs = 5_000;

export type TestDelivery = {
  ok: boolean;
  status: number | null;
  latencyMs: number;
  message: string;
};

/**
 * "Send test": one signed `alert.test` event to the project's webhook, sent now by the API
 * (not queued, so the admin sees the receiver's answer), with the worker's address rule and
 * bound. Nothing is recorded: a test is not a delivery, and is not retried.
 */
export async function sendTestAlert(ctx: ProjectContext): Promise<TestDelivery> {
  const settings = await getAlertSettings(ctx.db, ctx.project.id);
  if (!settings)
    throw new TRPCError({ code: "PRECONDITION_FAILED", message: "Set a webhook URL first." });
  let secret: string;
  try {
    secret = ctx.box.decrypt(settings.sealedSecret);
  } catch {
    throw new TRPCError({
      code: "PRECONDITION_FAILED",
      message: "The signing secret cannot be opened with this OSM_SECRET: set the webhook again.",
    });
  }
  const id = newId("delivery");
  const now = ctx.now();
  const body = JSON.stringify({
    id,
    type: "alert.test",
    projectId: ctx.project.id,
    sentAt: now.toISOString(),
  });
  const started = performance.now();
  const result = (ok: boolean, status: number | null, message: string): TestDelivery => ({
    ok,
    status,
    latencyMs: Math.round(performance.now() - started),
    message,
  });
  try {
    const status = await postWebhook(
      settings.url,
      body,
      {
        "content-type": "application/json",
        "user-agent": "osm-alerts/1",
        "osm-event": "alert.test",
        "osm-delivery-id": id,
        [signatureHeader]: signWebhook(secret, Math.floor(now.getTime() / 1000), body),
      },
      { allowPrivate: ctx.config.allowPrivateUpstreams, timeoutMs: testTimeoutMs },
    );
    return status >= 200 && status <= 299
      ? result(true, status, `The webhook answered HTTP ${status}.`)
      : result(false, status, `The webhook answered HTTP ${status}: alerts would be retried.`);
  } catch (err) {
    return result(false, null, err instanceof WebhookError ? err.message : "The request failed.");
  }
}

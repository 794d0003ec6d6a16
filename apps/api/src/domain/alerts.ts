import { randomBytes } from "node:crypto";
import { upsertAlertSettings } from "@osm/db/queries/alerts";
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

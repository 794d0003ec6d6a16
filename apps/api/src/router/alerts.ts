import { randomBytes } from "node:crypto";
import { getAlertSettings, listDeliveries, upsertAlertSettings } from "@osm/db/queries/alerts";
import { recordAudit } from "@osm/db/queries/audit";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { auditActor } from "../audit-actor.ts";
import { projectIdSchema, projectPageInput } from "../inputs.ts";
import { redactUrl } from "../redact-url.ts";
import { authedProcedure, requireRole, router } from "../trpc.ts";
import { checkUpstreamUrl } from "../upstream-url.ts";

export const alertsRouter = router({
  get: authedProcedure
    .input(z.strictObject({ projectId: projectIdSchema }))
    .query(async ({ ctx, input }) => {
      await requireRole(ctx, input.projectId, "admin");
      const settings = await getAlertSettings(ctx.db, input.projectId);
      return settings ? { url: settings.url, updatedAt: settings.updatedAt } : null;
    }),

  /** Sets the webhook; a new signing secret is returned once. */
  set: authedProcedure
    .input(z.strictObject({ projectId: projectIdSchema, url: z.string().max(2048) }))
    .mutation(async ({ ctx, input }) => {
      await requireRole(ctx, input.projectId, "admin");
      const check = await checkUpstreamUrl(input.url, ctx.config.allowPrivateUpstreams);
      if (!check.ok) throw new TRPCError({ code: "BAD_REQUEST", message: `url ${check.reason}.` });
      const signingSecret = `whsec_${randomBytes(24).toString("base64url")}`;
      await ctx.db.transaction(async (tx) => {
        await upsertAlertSettings(
          tx,
          input.projectId,
          check.url,
          ctx.box.encrypt(signingSecret),
          ctx.now(),
        );
        await recordAudit(tx, {
          projectId: input.projectId,
          actor: auditActor(ctx.actor),
          action: "alerts.set",
          targetType: "alerts",
          targetId: input.projectId,
          data: { url: redactUrl(check.url) },
        });
      });
      return { url: check.url, signingSecret };
    }),

  deliveries: authedProcedure.input(projectPageInput).query(async ({ ctx, input }) => {
    await requireRole(ctx, input.projectId, "admin");
    return listDeliveries(ctx.db, input.projectId, input);
  }),
});

import { getAlertSettings, listDeliveries } from "@osm/db/queries/alerts";
import { z } from "zod";
import { sendTestAlert, setAlertWebhook } from "../domain/alerts.ts";
import { projectIdSchema, projectPageInput } from "../inputs.ts";
import { projectProcedure, router } from "../trpc.ts";

export const alertsRouter = router({
  get: projectProcedure("admin", z.strictObject({ projectId: projectIdSchema })).query(
    async ({ ctx }) => {
      const settings = await getAlertSettings(ctx.db, ctx.project.id);
      return settings ? { url: settings.url, updatedAt: settings.updatedAt } : null;
    },
  ),

  /** Sets the webhook; a new signing secret is returned once. */
  set: projectProcedure(
    "admin",
    z.strictObject({ projectId: projectIdSchema, url: z.string().max(2048) }),
  ).mutation(({ ctx, input }) => setAlertWebhook(ctx, input.url)),

  // A mutation, not a query: it calls out to the receiver, so nothing may refetch it.
  sendTest: projectProcedure("admin", z.strictObject({ projectId: projectIdSchema })).mutation(
    ({ ctx }) => sendTestAlert(ctx),
  ),

  deliveries: projectProcedure("admin", projectPageInput).query(({ ctx, input }) =>
    listDeliveries(ctx.db, ctx.project.id, input),
  ),
});

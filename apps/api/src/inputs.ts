import { usageTagSchema } from "@osm/jobs/usage-event";
import { z } from "zod";

/** Shared input pieces: every object is strict, so an unknown field is a BAD_REQUEST naming it. */
export const idSchema = z.string().min(1).max(64);
export const projectIdSchema = idSchema;

export const pageInput = {
  cursor: z.string().max(128).optional(),
  // tRPC's infinite queries (the dashboard's logs and audit tables) send the paging direction
  // along with the cursor; pages only go forward, so it is accepted and ignored.
  direction: z.enum(["forward", "backward"]).optional(),
  limit: z.number().int().min(1).max(100).default(50),
};

export const projectPageInput = z.strictObject({ projectId: projectIdSchema, ...pageInput });

export const labelSchema = z.string().trim().min(1, "must not be empty").max(200);
export const futureDateSchema = z.date();

/** End-user attribution filters on the request log and the usage figures. */
export const attributionInput = {
  endUser: z.string().min(1).max(256).optional(),
  tag: usageTagSchema.optional(),
};

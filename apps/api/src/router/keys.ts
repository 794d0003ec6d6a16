import { keySorts, limitStates } from "@osm/db/queries/keys";
import { keyStatuses } from "@osm/policy/key-status";
import { budgetPeriodSchema, keyPolicySchema, spendLimitSchema } from "@osm/policy/schemas";
import { z } from "zod";
import {
  createKey,
  endKeyGrace,
  listKeyPage,
  locateKey,
  resetKeySpend,
  revokeKey,
  rotateKey,
  setKeyActive,
  showKey,
  updateKeySettings,
} from "../domain/keys.ts";
import { idSchema, labelSchema, pageInput, projectIdSchema } from "../inputs.ts";
import { projectProcedure, router } from "../trpc.ts";

const maxGraceSeconds = 30 * 24 * 3600;

const byId = z.strictObject({ id: idSchema });
const keyById = (ctx: Parameters<typeof locateKey>[0], input: { id: string }) =>
  locateKey(ctx, input.id);

export const keysRouter = router({
  list: projectProcedure(
    "viewer",
    z.strictObject({
      projectId: projectIdSchema,
      status: z.enum(keyStatuses).optional(),
      limitState: z.enum(limitStates).optional(),
      sort: z.enum(keySorts).default("created"),
      q: z.string().trim().max(200).optional(),
      ...pageInput,
    }),
  ).query(({ ctx, input }) => listKeyPage(ctx, input)),

  get: projectProcedure("viewer", byId, keyById).query(({ ctx }) => showKey(ctx)),

  create: projectProcedure(
    "member",
    z.strictObject({
      projectId: projectIdSchema,
      label: labelSchema,
      spendLimitUsd: spendLimitSchema.optional(),
      budgetPeriod: budgetPeriodSchema.default("none"),
      policy: keyPolicySchema.default({}),
      expiresAt: z.date().optional(),
    }),
  ).mutation(({ ctx, input }) => createKey(ctx, input)),

  update: projectProcedure(
    "member",
    z.strictObject({
      id: idSchema,
      label: labelSchema.optional(),
      spendLimitUsd: spendLimitSchema.nullable().optional(),
      budgetPeriod: budgetPeriodSchema.optional(),
      policy: keyPolicySchema.optional(),
      expiresAt: z.date().nullable().optional(),
    }),
    keyById,
  ).mutation(({ ctx, input }) => updateKeySettings(ctx, input)),

  setActive: projectProcedure(
    "member",
    z.strictObject({ id: idSchema, active: z.boolean() }),
    keyById,
  ).mutation(({ ctx, input }) => setKeyActive(ctx, input.active)),

  rotate: projectProcedure(
    "member",
    z.strictObject({
      id: idSchema,
      gracePeriodSeconds: z.number().int().min(0).max(maxGraceSeconds),
      // A guessable key would let anyone replay: it must carry real entropy.
      idempotencyKey: z.string().min(16).max(200).optional(),
    }),
    keyById,
  ).mutation(({ ctx, input }) => rotateKey(ctx, input)),

  endGrace: projectProcedure("member", byId, keyById).mutation(({ ctx }) => endKeyGrace(ctx)),

  revoke: projectProcedure("member", byId, keyById).mutation(({ ctx }) => revokeKey(ctx)),

  // Resetting spend hands out money again, so it takes an admin.
  resetSpend: projectProcedure("admin", byId, keyById).mutation(({ ctx }) => resetKeySpend(ctx)),
});

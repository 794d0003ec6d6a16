import { recordAudit } from "@osm/db/queries/audit";
import {
  findKey,
  findKeyForUpdate,
  findRotation,
  insertKey,
  keySorts,
  keyStatuses,
  limitStates,
  listKeys,
  rotationReplayWindowMs,
  saveRotation,
  updateKey,
} from "@osm/db/queries/keys";
import { keySparklines } from "@osm/db/queries/usage";
import type { ApiKeyRow, Role } from "@osm/db/schema";
import { displaySecret, generateSecret, hashSecret } from "@osm/keys/secrets";
import { budgetPeriodSchema, keyPolicySchema, spendLimitSchema } from "@osm/policy/schemas";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { auditActor } from "../audit-actor.ts";
import { idSchema, labelSchema, pageInput, projectIdSchema } from "../inputs.ts";
import { keyView, keyViews } from "../key-view.ts";
import { type AuthedContext, authedProcedure, notFound, requireRole, router } from "../trpc.ts";

const maxGraceSeconds = 30 * 24 * 3600;

async function loadKey(ctx: AuthedContext, id: string, minimum: Role): Promise<ApiKeyRow> {
  const key = await findKey(ctx.db, id);
  if (!key) notFound("Key");
  await requireRole(ctx, key.projectId, minimum);
  return key;
}

function assertFuture(date: Date | null | undefined, now: Date, field: string) {
  if (date && date <= now) {
    throw new TRPCError({ code: "BAD_REQUEST", message: `${field} must be in the future.` });
  }
}

/** Runs a key change with its audit row in one transaction, then tells the proxies. */
async function changeKey(
  ctx: AuthedContext,
  key: ApiKeyRow,
  action: string,
  change: (
    tx: Parameters<Parameters<AuthedContext["db"]["transaction"]>[0]>[0],
  ) => Promise<ApiKeyRow | undefined>,
  data: Record<string, unknown> = {},
) {
  const updated = await ctx.db.transaction(async (tx) => {
    const row = await change(tx);
    if (!row) notFound("Key");
    await recordAudit(tx, {
      projectId: key.projectId,
      actor: auditActor(ctx.actor),
      action,
      targetType: "key",
      targetId: key.id,
      data,
    });
    return row;
  });
  await ctx.publish({ kind: "key", id: updated.id, version: updated.version, event: "changed" });
  return updated;
}

export const keysRouter = router({
  list: authedProcedure
    .input(
      z.strictObject({
        projectId: projectIdSchema,
        status: z.enum(keyStatuses).optional(),
        limitState: z.enum(limitStates).optional(),
        sort: z.enum(keySorts).default("created"),
        q: z.string().trim().max(200).optional(),
        ...pageInput,
      }),
    )
    .query(async ({ ctx, input }) => {
      await requireRole(ctx, input.projectId, "viewer");
      const now = ctx.now();
      const page = await listKeys(ctx.db, { ...input, now });
      const [views, lines] = await Promise.all([
        keyViews(ctx.db, ctx.counters, page.items, now),
        keySparklines(
          ctx.db,
          input.projectId,
          page.items.map((k) => k.id),
          now,
        ),
      ]);
      return {
        items: views.map((v) => ({ ...v, requests24h: lines.get(v.id) ?? [] })),
        nextCursor: page.nextCursor,
      };
    }),

  get: authedProcedure.input(z.strictObject({ id: idSchema })).query(async ({ ctx, input }) => {
    const key = await loadKey(ctx, input.id, "viewer");
    return keyView(ctx.db, ctx.counters, key, ctx.now());
  }),

  create: authedProcedure
    .input(
      z.strictObject({
        projectId: projectIdSchema,
        label: labelSchema,
        spendLimitUsd: spendLimitSchema.optional(),
        budgetPeriod: budgetPeriodSchema.default("none"),
        policy: keyPolicySchema.default({}),
        expiresAt: z.date().optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      await requireRole(ctx, input.projectId, "member");
      const now = ctx.now();
      assertFuture(input.expiresAt, now, "expiresAt");
      const secret = generateSecret("apiKey");
      const key = await ctx.db.transaction(async (tx) => {
        const row = await insertKey(tx, {
          projectId: input.projectId,
          label: input.label,
          secretHash: hashSecret(secret),
          display: displaySecret(secret),
          spendLimit: input.spendLimitUsd ?? null,
          budgetPeriod: input.budgetPeriod,
          policy: input.policy,
          expiresAt: input.expiresAt ?? null,
          createdBy: auditActor(ctx.actor).id,
        });
        await recordAudit(tx, {
          projectId: input.projectId,
          actor: auditActor(ctx.actor),
          action: "key.create",
          targetType: "key",
          targetId: row.id,
          data: { label: input.label },
        });
        return row;
      });
      await ctx.publish({ kind: "key", id: key.id, version: key.version, event: "created" });
      return { key: await keyView(ctx.db, ctx.counters, key, now), secret };
    }),

  update: authedProcedure
    .input(
      z.strictObject({
        id: idSchema,
        label: labelSchema.optional(),
        spendLimitUsd: spendLimitSchema.nullable().optional(),
        budgetPeriod: budgetPeriodSchema.optional(),
        policy: keyPolicySchema.optional(),
        expiresAt: z.date().nullable().optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const key = await loadKey(ctx, input.id, "member");
      const now = ctx.now();
      assertFuture(input.expiresAt, now, "expiresAt");
      const updated = await changeKey(
        ctx,
        key,
        "key.update",
        async (tx) => {
          const current = await findKeyForUpdate(tx, key.id);
          if (!current) return undefined;
          const limit =
            input.spendLimitUsd === undefined ? current.spendLimit : input.spendLimitUsd;
          // A raise, a removed limit or another window lifts the flag; a person's `enabled` is never touched.
          const raised =
            (current.spendLimit !== null && (limit === null || limit > current.spendLimit)) ||
            (input.budgetPeriod !== undefined && input.budgetPeriod !== current.budgetPeriod);
          return updateKey(
            tx,
            key.id,
            {
              label: input.label,
              spendLimit: limit,
              budgetPeriod: input.budgetPeriod,
              policy: input.policy,
              expiresAt: input.expiresAt,
              ...(raised ? { limitReached: false, limitWindowStart: null } : {}),
            },
            now,
          );
        },
        { fields: Object.keys(input).filter((f) => f !== "id") },
      );
      return keyView(ctx.db, ctx.counters, updated, now);
    }),

  setActive: authedProcedure
    .input(z.strictObject({ id: idSchema, active: z.boolean() }))
    .mutation(async ({ ctx, input }) => {
      const key = await loadKey(ctx, input.id, "member");
      const now = ctx.now();
      const updated = await changeKey(
        ctx,
        key,
        input.active ? "key.activate" : "key.deactivate",
        (tx) => updateKey(tx, key.id, { enabled: input.active }, now),
      );
      return keyView(ctx.db, ctx.counters, updated, now);
    }),

  rotate: authedProcedure
    .input(
      z.strictObject({
        id: idSchema,
        gracePeriodSeconds: z.number().int().min(0).max(maxGraceSeconds),
        // A guessable key would let anyone replay: it must carry real entropy.
        idempotencyKey: z.string().min(16).max(200).optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const key = await loadKey(ctx, input.id, "member");
      const now = ctx.now();
      if (key.revokedAt) {
        throw new TRPCError({
          code: "PRECONDITION_FAILED",
          message: "A revoked key cannot be rotated.",
        });
      }
      let secret = "";
      let replayed = false;
      const updated = await ctx.db.transaction(async (tx) => {
        const current = await findKeyForUpdate(tx, key.id);
        if (!current) notFound("Key");
        if (input.idempotencyKey) {
          const earlier = await findRotation(
            tx,
            key.id,
            input.idempotencyKey,
            new Date(now.getTime() - rotationReplayWindowMs),
          );
          if (earlier) {
            // Only whoever rotated gets the secret again, and only while it is the live one.
            const actor = auditActor(ctx.actor);
            if (earlier.actorType !== actor.type || earlier.actorId !== actor.id) {
              throw new TRPCError({
                code: "CONFLICT",
                message: "This idempotencyKey was used by another caller.",
              });
            }
            secret = ctx.box.decrypt(earlier.sealedSecret);
            if (hashSecret(secret) !== current.secretHash) {
              throw new TRPCError({
                code: "CONFLICT",
                message: "The key was rotated again since: this rotation cannot be replayed.",
              });
            }
            await recordAudit(tx, {
              projectId: key.projectId,
              actor,
              action: "key.rotate_replay",
              targetType: "key",
              targetId: key.id,
            });
            replayed = true;
            return current;
          }
        }
        secret = generateSecret("apiKey");
        const graceEnd = new Date(now.getTime() + input.gracePeriodSeconds * 1000);
        const graceUntil =
          current.expiresAt && current.expiresAt < graceEnd ? current.expiresAt : graceEnd;
        // The replaced secret stays valid during the grace; a second rotation ends an earlier grace at once.
        const row = await updateKey(
          tx,
          key.id,
          {
            secretHash: hashSecret(secret),
            display: displaySecret(secret),
            previousSecretHash: input.gracePeriodSeconds > 0 ? current.secretHash : null,
            graceUntil: input.gracePeriodSeconds > 0 ? graceUntil : null,
          },
          now,
        );
        if (input.idempotencyKey)
          await saveRotation(tx, {
            keyId: key.id,
            idempotencyKey: input.idempotencyKey,
            sealedSecret: ctx.box.encrypt(secret),
            actor: auditActor(ctx.actor),
            now,
          });
        await recordAudit(tx, {
          projectId: key.projectId,
          actor: auditActor(ctx.actor),
          action: "key.rotate",
          targetType: "key",
          targetId: key.id,
          data: { gracePeriodSeconds: input.gracePeriodSeconds },
        });
        return row!;
      });
      if (!replayed)
        await ctx.publish({
          kind: "key",
          id: updated.id,
          version: updated.version,
          event: "changed",
        });
      return { key: await keyView(ctx.db, ctx.counters, updated, now), secret };
    }),

  /** Ends a rotation's grace at once: the replaced secret stops working now. */
  endGrace: authedProcedure
    .input(z.strictObject({ id: idSchema }))
    .mutation(async ({ ctx, input }) => {
      const key = await loadKey(ctx, input.id, "member");
      const now = ctx.now();
      if (!key.previousSecretHash) return keyView(ctx.db, ctx.counters, key, now);
      const updated = await changeKey(ctx, key, "key.end_grace", (tx) =>
        updateKey(tx, key.id, { previousSecretHash: null, graceUntil: null }, now),
      );
      return keyView(ctx.db, ctx.counters, updated, now);
    }),

  revoke: authedProcedure
    .input(z.strictObject({ id: idSchema }))
    .mutation(async ({ ctx, input }) => {
      const key = await loadKey(ctx, input.id, "member");
      const now = ctx.now();
      if (key.revokedAt) return keyView(ctx.db, ctx.counters, key, now);
      const updated = await changeKey(ctx, key, "key.revoke", (tx) =>
        updateKey(tx, key.id, { revokedAt: now, previousSecretHash: null, graceUntil: null }, now),
      );
      return keyView(ctx.db, ctx.counters, updated, now);
    }),

  resetSpend: authedProcedure
    .input(z.strictObject({ id: idSchema }))
    .mutation(async ({ ctx, input }) => {
      // Resetting spend hands out money again, so it takes an admin.
      const key = await loadKey(ctx, input.id, "admin");
      const now = ctx.now();
      const updated = await changeKey(ctx, key, "key.reset_spend", (tx) =>
        updateKey(
          tx,
          key.id,
          { spendResetAt: now, limitReached: false, limitWindowStart: null },
          now,
        ),
      );
      return keyView(ctx.db, ctx.counters, updated, now);
    }),
});

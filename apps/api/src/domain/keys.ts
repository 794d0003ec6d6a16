import type { Tx } from "@osm/db/client";
import {
  findKey,
  findKeyForUpdate,
  findRotation,
  insertKey,
  type KeySort,
  type LimitState,
  listKeys,
  rotationReplayWindowMs,
  saveRotation,
  updateKey,
} from "@osm/db/queries/keys";
import { keySparklines } from "@osm/db/queries/usage";
import type { ApiKeyRow } from "@osm/db/schema";
import { displaySecret, generateSecret, hashSecret } from "@osm/keys/secrets";
import type { KeyStatus } from "@osm/policy/key-status";
import type { BudgetPeriod, KeyPolicy } from "@osm/policy/schemas";
import { TRPCError } from "@trpc/server";
import { auditActor } from "../audit-actor.ts";
import { audited } from "../audited.ts";
import { keyView, keyViews } from "../key-view.ts";
import { type AuthedContext, notFound, type ProjectContext } from "../trpc.ts";

type KeyContext = ProjectContext<ApiKeyRow>;

/** The project of the key an input names; NOT_FOUND before any role check, as for every row. */
export async function locateKey(ctx: AuthedContext, id: string): Promise<ApiKeyRow> {
  const key = await findKey(ctx.db, id);
  if (!key) notFound("Key");
  return key;
}

function assertFuture(date: Date | null | undefined, now: Date, field: string) {
  if (date && date <= now) {
    throw new TRPCError({ code: "BAD_REQUEST", message: `${field} must be in the future.` });
  }
}

/** A key change with its audit row, then the proxies drop the cached key. */
function changeKey(
  ctx: KeyContext,
  action: string,
  change: (tx: Tx) => Promise<ApiKeyRow | undefined>,
  data: Record<string, unknown> = {},
) {
  return audited(
    ctx,
    (row: ApiKeyRow) => ({
      action,
      target: { type: "key", id: ctx.target.id },
      data,
      publish: { kind: "key", id: row.id, version: row.version, event: "changed" },
    }),
    async (tx) => {
      const row = await change(tx);
      if (!row) notFound("Key");
      return row;
    },
  );
}

export type KeyListInput = {
  projectId: string;
  status?: KeyStatus;
  limitState?: LimitState;
  sort: KeySort;
  q?: string;
  cursor?: string;
  limit: number;
};

export async function listKeyPage(ctx: ProjectContext, input: KeyListInput) {
  const now = ctx.now();
  const page = await listKeys(ctx.db, { ...input, now });
  const [views, lines] = await Promise.all([
    keyViews(ctx.db, ctx.counters, page.items, now),
    keySparklines(
      ctx.db,
      ctx.project.id,
      page.items.map((k) => k.id),
      now,
    ),
  ]);
  return {
    items: views.map((v) => ({ ...v, requests24h: lines.get(v.id) ?? [] })),
    nextCursor: page.nextCursor,
  };
}

export function showKey(ctx: KeyContext) {
  return keyView(ctx.db, ctx.counters, ctx.target, ctx.now());
}

export type NewKeyInput = {
  label: string;
  spendLimitUsd?: bigint;
  budgetPeriod: BudgetPeriod;
  policy: KeyPolicy;
  expiresAt?: Date;
};

/** The secret is returned once, here; only its hash is stored. */
export async function createKey(ctx: ProjectContext, input: NewKeyInput) {
  const now = ctx.now();
  assertFuture(input.expiresAt, now, "expiresAt");
  const secret = generateSecret("apiKey");
  const key = await audited(
    ctx,
    (row: ApiKeyRow) => ({
      action: "key.create",
      target: { type: "key", id: row.id },
      data: { label: input.label },
      publish: { kind: "key", id: row.id, version: row.version, event: "created" },
    }),
    (tx) =>
      insertKey(tx, {
        projectId: ctx.project.id,
        label: input.label,
        secretHash: hashSecret(secret),
        display: displaySecret(secret),
        spendLimit: input.spendLimitUsd ?? null,
        budgetPeriod: input.budgetPeriod,
        policy: input.policy,
        expiresAt: input.expiresAt ?? null,
        createdBy: auditActor(ctx.actor).id,
      }),
  );
  return { key: await keyView(ctx.db, ctx.counters, key, now), secret };
}

export type KeySettingsInput = {
  id: string;
  label?: string;
  spendLimitUsd?: bigint | null;
  budgetPeriod?: BudgetPeriod;
  policy?: KeyPolicy;
  expiresAt?: Date | null;
};

export async function updateKeySettings(ctx: KeyContext, input: KeySettingsInput) {
  const key = ctx.target;
  const now = ctx.now();
  assertFuture(input.expiresAt, now, "expiresAt");
  const updated = await changeKey(
    ctx,
    "key.update",
    async (tx) => {
      const current = await findKeyForUpdate(tx, key.id);
      if (!current) return undefined;
      const limit = input.spendLimitUsd === undefined ? current.spendLimit : input.spendLimitUsd;
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
}

export async function setKeyActive(ctx: KeyContext, active: boolean) {
  const now = ctx.now();
  const updated = await changeKey(ctx, active ? "key.activate" : "key.deactivate", (tx) =>
    updateKey(tx, ctx.target.id, { enabled: active }, now),
  );
  return keyView(ctx.db, ctx.counters, updated, now);
}

export type RotationInput = { gracePeriodSeconds: number; idempotencyKey?: string };

/**
 * A new secret; the replaced one stays valid during the grace. With an idempotency key, the
 * same caller asking again gets the same secret back instead of a second rotation.
 */
export async function rotateKey(ctx: KeyContext, input: RotationInput) {
  const key = ctx.target;
  const now = ctx.now();
  if (key.revokedAt) {
    throw new TRPCError({
      code: "PRECONDITION_FAILED",
      message: "A revoked key cannot be rotated.",
    });
  }
  const actor = auditActor(ctx.actor);
  const { row, secret } = await audited(
    ctx,
    ({ row, replayed }: { row: ApiKeyRow; secret: string; replayed: boolean }) =>
      replayed
        ? { action: "key.rotate_replay", target: { type: "key", id: key.id } }
        : {
            action: "key.rotate",
            target: { type: "key", id: key.id },
            data: { gracePeriodSeconds: input.gracePeriodSeconds },
            publish: { kind: "key", id: row.id, version: row.version, event: "changed" },
          },
    async (tx) => {
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
          if (earlier.actorType !== actor.type || earlier.actorId !== actor.id) {
            throw new TRPCError({
              code: "CONFLICT",
              message: "This idempotencyKey was used by another caller.",
            });
          }
          const secret = ctx.box.decrypt(earlier.sealedSecret);
          if (hashSecret(secret) !== current.secretHash) {
            throw new TRPCError({
              code: "CONFLICT",
              message: "The key was rotated again since: this rotation cannot be replayed.",
            });
          }
          return { row: current, secret, replayed: true };
        }
      }
      const secret = generateSecret("apiKey");
      const graceEnd = new Date(now.getTime() + input.gracePeriodSeconds * 1000);
      const graceUntil =
        current.expiresAt && current.expiresAt < graceEnd ? current.expiresAt : graceEnd;
      // A second rotation ends an earlier grace at once.
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
      if (!row) notFound("Key");
      if (input.idempotencyKey)
        await saveRotation(tx, {
          keyId: key.id,
          idempotencyKey: input.idempotencyKey,
          sealedSecret: ctx.box.encrypt(secret),
          actor,
          now,
        });
      return { row, secret, replayed: false };
    },
  );
  return { key: await keyView(ctx.db, ctx.counters, row, now), secret };
}

/** Ends a rotation's grace at once: the replaced secret stops working now. */
export async function endKeyGrace(ctx: KeyContext) {
  const now = ctx.now();
  if (!ctx.target.previousSecretHash) return keyView(ctx.db, ctx.counters, ctx.target, now);
  const updated = await changeKey(ctx, "key.end_grace", (tx) =>
    updateKey(tx, ctx.target.id, { previousSecretHash: null, graceUntil: null }, now),
  );
  return keyView(ctx.db, ctx.counters, updated, now);
}

export async function revokeKey(ctx: KeyContext) {
  const now = ctx.now();
  if (ctx.target.revokedAt) return keyView(ctx.db, ctx.counters, ctx.target, now);
  const updated = await changeKey(ctx, "key.revoke", (tx) =>
    updateKey(
      tx,
      ctx.target.id,
      { revokedAt: now, previousSecretHash: null, graceUntil: null },
      now,
    ),
  );
  return keyView(ctx.db, ctx.counters, updated, now);
}

export async function resetKeySpend(ctx: KeyContext) {
  const now = ctx.now();
  const updated = await changeKey(ctx, "key.reset_spend", (tx) =>
    updateKey(
      tx,
      ctx.target.id,
      { spendResetAt: now, limitReached: false, limitWindowStart: null },
      now,
    ),
  );
  return keyView(ctx.db, ctx.counters, updated, now);
}

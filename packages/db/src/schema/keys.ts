import { boolean, index, jsonb, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";
import { actorTypes } from "./audit.ts";
import { createdAt, nanos, timestamps, versioned } from "./columns.ts";
import { projects, roles } from "./projects.ts";

export const budgetPeriods = ["none", "daily", "weekly", "monthly"] as const;

export const apiKeys = pgTable(
  "api_keys",
  {
    id: text().primaryKey(),
    projectId: text()
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    label: text().notNull(),
    /** SHA-256 of the secret: the only form in which a secret is kept. */
    secretHash: text().notNull().unique(),
    display: text().notNull(),
    /** The secret replaced by the last rotation, honoured until graceUntil. */
    previousSecretHash: text().unique(),
    graceUntil: timestamp({ withTimezone: true }),
    /** Set by people (activate / deactivate). */
    enabled: boolean().notNull().default(true),
    /** Set by the system when the key hits its limit in limitWindowStart. */
    limitReached: boolean().notNull().default(false),
    limitWindowStart: timestamp({ withTimezone: true }),
    revokedAt: timestamp({ withTimezone: true }),
    expiresAt: timestamp({ withTimezone: true }),
    spendLimit: nanos(),
    budgetPeriod: text({ enum: budgetPeriods }).notNull().default("none"),
    /** A spend reset starts a fresh counter inside the current window from this instant. */
    spendResetAt: timestamp({ withTimezone: true }),
    policy: jsonb().notNull().default({}),
    lastUsedAt: timestamp({ withTimezone: true }),
    createdBy: text(),
    ...versioned,
    ...timestamps,
  },
  (t) => [index().on(t.projectId, t.createdAt)],
);

/**
 * Lets a retried rotate return the secret of the first attempt to the same caller (sealed with
 * OSM_SECRET; the worker deletes rows after 24 h).
 */
export const keyRotations = pgTable(
  "key_rotations",
  {
    keyId: text()
      .notNull()
      .references(() => apiKeys.id, { onDelete: "cascade" }),
    idempotencyKey: text().notNull(),
    sealedSecret: text().notNull(),
    /** Who rotated: only they may replay. Rows from before this column replay for nobody. */
    actorType: text({ enum: actorTypes }),
    actorId: text(),
    ...createdAt,
  },
  (t) => [primaryKey({ columns: [t.keyId, t.idempotencyKey] })],
);

export const managementTokens = pgTable(
  "management_tokens",
  {
    id: text().primaryKey(),
    projectId: text()
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    label: text().notNull(),
    role: text({ enum: roles }).notNull(),
    secretHash: text().notNull().unique(),
    display: text().notNull(),
    expiresAt: timestamp({ withTimezone: true }),
    revokedAt: timestamp({ withTimezone: true }),
    lastUsedAt: timestamp({ withTimezone: true }),
    createdBy: text(),
    ...versioned,
    ...timestamps,
  },
  (t) => [index().on(t.projectId)],
);

export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type ManagementTokenRow = typeof managementTokens.$inferSelect;

import { boolean, index, integer, pgTable, text, unique } from "drizzle-orm/pg-core";
import { nanos, timestamps, versioned } from "./columns.ts";
import { projects } from "./projects.ts";

export const providerKinds = ["openai", "anthropic"] as const;
export type ProviderKind = (typeof providerKinds)[number];
export const tiers = ["free", "paid", "premium"] as const;
export const tokenParams = ["max_tokens", "max_completion_tokens"] as const;

export const providers = pgTable(
  "providers",
  {
    id: text().primaryKey(),
    projectId: text()
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    /** The project-scoped id users see and policies name. */
    slug: text().notNull(),
    kind: text({ enum: providerKinds }).notNull(),
    baseUrl: text().notNull(),
    /** The upstream API key, sealed with OSM_SECRET (AES-256-GCM). */
    credential: text().notNull(),
    ...versioned,
    ...timestamps,
  },
  (t) => [unique().on(t.projectId, t.slug)],
);

export const models = pgTable(
  "models",
  {
    id: text().primaryKey(),
    projectId: text()
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    slug: text().notNull(),
    providerId: text()
      .notNull()
      .references(() => providers.id, { onDelete: "restrict" }),
    upstreamModel: text().notNull(),
    /** nano-USD per 1M tokens */
    inputPer1M: nanos().notNull(),
    outputPer1M: nanos().notNull(),
    /** Cached input tokens' price; null charges them the full input price. */
    cachedInputPer1M: nanos(),
    tier: text({ enum: tiers }).notNull(),
    maxOutputTokens: integer().notNull().default(4096),
    tokenParam: text({ enum: tokenParams }).notNull().default("max_tokens"),
    active: boolean().notNull().default(true),
    ...versioned,
    ...timestamps,
  },
  (t) => [unique().on(t.projectId, t.slug), index().on(t.providerId)],
);

export type ProviderRow = typeof providers.$inferSelect;
export type ModelRow = typeof models.$inferSelect;

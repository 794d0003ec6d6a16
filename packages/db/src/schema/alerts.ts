import { index, integer, jsonb, pgTable, text, timestamp, unique } from "drizzle-orm/pg-core";
import { createdAt, timestamps } from "./columns.ts";
import { projects } from "./projects.ts";

export const alertSettings = pgTable("alert_settings", {
  projectId: text()
    .primaryKey()
    .references(() => projects.id, { onDelete: "cascade" }),
  url: text().notNull(),
  /** HMAC signing secret, sealed with OSM_SECRET. */
  sealedSecret: text().notNull(),
  ...timestamps,
});

export const deliveryStatuses = ["pending", "delivered", "failed"] as const;

export const alertDeliveries = pgTable(
  "alert_deliveries",
  {
    id: text().primaryKey(),
    projectId: text()
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    keyId: text().notNull(),
    /** Percent of the budget crossed: 50, 80 or 100. */
    threshold: integer().notNull(),
    windowStart: timestamp({ withTimezone: true }).notNull(),
    status: text({ enum: deliveryStatuses }).notNull().default("pending"),
    attempts: integer().notNull().default(0),
    responseStatus: integer(),
    lastError: text(),
    payload: jsonb().notNull(),
    deliveredAt: timestamp({ withTimezone: true }),
    ...createdAt,
  },
  (t) => [unique().on(t.keyId, t.threshold, t.windowStart), index().on(t.projectId, t.createdAt)],
);

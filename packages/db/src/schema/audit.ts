import { index, jsonb, pgTable, text } from "drizzle-orm/pg-core";
import { createdAt } from "./columns.ts";

export const actorTypes = ["user", "token", "master", "system"] as const;
export type ActorType = (typeof actorTypes)[number];

/** Append-only: a trigger in the migrations refuses UPDATE and DELETE. */
export const auditLog = pgTable(
  "audit_log",
  {
    id: text().primaryKey(),
    /** Null for instance-wide events such as the first signup. */
    projectId: text(),
    actorType: text({ enum: actorTypes }).notNull(),
    actorId: text(),
    action: text().notNull(),
    targetType: text().notNull(),
    targetId: text(),
    data: jsonb().$type<Record<string, unknown>>().notNull().default({}),
    ...createdAt,
  },
  (t) => [index().on(t.projectId, t.createdAt)],
);

export type AuditRow = typeof auditLog.$inferSelect;

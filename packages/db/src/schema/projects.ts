import { index, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";
import { createdAt, timestamps, versioned } from "./columns.ts";
import { users } from "./users.ts";

export const roles = ["owner", "admin", "member", "viewer"] as const;
export type Role = (typeof roles)[number];

export const projects = pgTable("projects", {
  id: text().primaryKey(),
  name: text().notNull(),
  ...versioned,
  ...timestamps,
});

export const memberships = pgTable(
  "memberships",
  {
    projectId: text()
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    userId: text()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    role: text({ enum: roles }).notNull(),
    ...versioned,
    ...createdAt,
  },
  (t) => [primaryKey({ columns: [t.projectId, t.userId] }), index().on(t.userId)],
);

export const invitations = pgTable(
  "invitations",
  {
    id: text().primaryKey(),
    projectId: text()
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    email: text().notNull(),
    role: text({ enum: roles }).notNull(),
    tokenHash: text().notNull().unique(),
    invitedBy: text().references(() => users.id, { onDelete: "set null" }),
    expiresAt: timestamp({ withTimezone: true }).notNull(),
    acceptedAt: timestamp({ withTimezone: true }),
    ...createdAt,
  },
  (t) => [index().on(t.projectId)],
);

export type ProjectRow = typeof projects.$inferSelect;
export type MembershipRow = typeof memberships.$inferSelect;
export type InvitationRow = typeof invitations.$inferSelect;

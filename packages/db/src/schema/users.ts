import { index, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import { createdAt, timestamps } from "./columns.ts";

export const users = pgTable("users", {
  id: text().primaryKey(),
  /** Stored lower-cased: logins and invitations match regardless of case. */
  email: text().notNull().unique(),
  passwordHash: text().notNull(),
  ...timestamps,
});

export const sessions = pgTable(
  "sessions",
  {
    id: text().primaryKey(),
    /** SHA-256 of the cookie value; the value itself is never stored. */
    tokenHash: text().notNull().unique(),
    userId: text()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    expiresAt: timestamp({ withTimezone: true }).notNull(),
    ...createdAt,
  },
  (t) => [index().on(t.userId)],
);

export type UserRow = typeof users.$inferSelect;
export type SessionRow = typeof sessions.$inferSelect;

import { sql } from "drizzle-orm";
import { bigint, pgSequence, timestamp } from "drizzle-orm/pg-core";

/**
 * One instance-wide sequence numbers every change to a cached row, so a proxy can drop a cache
 * fill older than an invalidation it has already seen, whatever the row's kind.
 */
export const changeVersion = pgSequence("change_version");

export const nextVersion = sql`nextval('change_version')`;

export const versioned = {
  version: bigint({ mode: "number" }).notNull().default(nextVersion),
};

export const timestamps = {
  createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
};

export const createdAt = {
  createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
};

/** Money in nano-USD: exact integers, far below bigint's ceiling for any single row. */
export const nanos = (name?: string) =>
  name ? bigint(name, { mode: "bigint" }) : bigint({ mode: "bigint" });

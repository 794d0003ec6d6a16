import { pgTable, text } from "drizzle-orm/pg-core";
import { timestamps } from "./columns.ts";

/** Instance-wide settings, e.g. the OSM_SECRET check value. */
export const instanceSettings = pgTable("instance_settings", {
  name: text().primaryKey(),
  value: text().notNull(),
  ...timestamps,
});

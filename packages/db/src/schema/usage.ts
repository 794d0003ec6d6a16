import { sql } from "drizzle-orm";
import {
  boolean,
  date,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
} from "drizzle-orm/pg-core";
import { createdAt, nanos } from "./columns.ts";

export const outcomes = ["allowed", "denied", "error"] as const;
export type Outcome = (typeof outcomes)[number];

/**
 * One row per authenticated request (allowed, denied or failed), unique by request id so that
 * a usage event delivered twice lands once. Never holds prompt or completion content.
 */
export const usageLedger = pgTable(
  "usage_ledger",
  {
    requestId: text().primaryKey(),
    projectId: text().notNull(),
    keyId: text().notNull(),
    model: text(),
    provider: text(),
    outcome: text({ enum: outcomes }).notNull(),
    code: text(),
    status: integer().notNull(),
    stream: boolean().notNull().default(false),
    inputTokens: integer().notNull().default(0),
    outputTokens: integer().notNull().default(0),
    cost: nanos().notNull().default(sql`0`),
    reserved: nanos().notNull().default(sql`0`),
    latencyMs: integer().notNull().default(0),
    /** Who the client said the request is for (`safety_identifier` / `user`), if anyone. */
    endUser: text(),
    /** The request's `x-osm-tags`, if any. */
    tags: text().array(),
    /** Set when a shadow-mode policy rule would have refused this (allowed) request. */
    shadowCode: text(),
    shadowMessage: text(),
    /** The request settles into the budget window it was admitted in. */
    admittedAt: timestamp({ withTimezone: true }).notNull(),
    ...createdAt,
  },
  (t) => [index().on(t.projectId, t.admittedAt), index().on(t.keyId, t.admittedAt)],
);

/**
 * Settled spend per key and UTC day. Every budget window (day, ISO week, month, all time) is a
 * whole number of days, so a window's total is a sum over at most 31 rows whatever the period.
 */
export const keySpendDaily = pgTable(
  "key_spend_daily",
  {
    keyId: text().notNull(),
    day: date({ mode: "string" }).notNull(),
    cost: nanos().notNull().default(sql`0`),
    requests: integer().notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.keyId, t.day] })],
);

const rollupColumns = {
  projectId: text().notNull(),
  keyId: text().notNull(),
  /** '' for requests that named no known model. */
  model: text().notNull(),
  bucketStart: timestamp({ withTimezone: true }).notNull(),
  requests: integer().notNull().default(0),
  errors: integer().notNull().default(0),
  denied: integer().notNull().default(0),
  /** {code: count} of denials and errors */
  codes: jsonb().$type<Record<string, number>>().notNull().default({}),
  inputTokens: nanos("input_tokens").notNull().default(sql`0`),
  outputTokens: nanos("output_tokens").notNull().default(sql`0`),
  cost: nanos().notNull().default(sql`0`),
};

export const usageHourly = pgTable("usage_hourly", rollupColumns, (t) => [
  primaryKey({ columns: [t.keyId, t.model, t.bucketStart] }),
  index().on(t.projectId, t.bucketStart),
]);

export const usageDaily = pgTable("usage_daily", rollupColumns, (t) => [
  primaryKey({ columns: [t.keyId, t.model, t.bucketStart] }),
  index().on(t.projectId, t.bucketStart),
]);

export type LedgerRow = typeof usageLedger.$inferSelect;

/** One row per (key, window start) whose housekeeping pass ran: the pass runs exactly once. */
export const windowResets = pgTable(
  "window_resets",
  {
    keyId: text().notNull(),
    windowStart: timestamp({ withTimezone: true }).notNull(),
    ...createdAt,
  },
  (t) => [primaryKey({ columns: [t.keyId, t.windowStart] })],
);

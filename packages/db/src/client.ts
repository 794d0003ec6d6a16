import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import * as schema from "./schema/index.ts";

export type CreateDbOptions = {
  url: string;
  /** Pool size; the proxy needs few, the worker's batches and the API more. */
  max?: number;
  applicationName?: string;
};

export function createDb(options: CreateDbOptions) {
  const sql = postgres(options.url, {
    max: options.max ?? 10,
    onnotice: () => {},
    connection: { application_name: options.applicationName ?? "osm" },
    // bigint columns arrive as JS bigint: money is never a float.
    types: { bigint: postgres.BigInt },
    // Reconnect delay after failed connects, in seconds. postgres.js's default grows to 20 s
    // and a connection keeps the delay it drew even once the server is back, so a query after
    // a short outage could wait that long; attempts against a down server are cheap.
    backoff: (retries: number) => (0.5 + Math.random() / 2) * Math.min(0.05 * 2 ** retries, 1),
  });
  const db = drizzle(sql, { schema, casing: "snake_case" });
  return { db, sql, close: () => sql.end({ timeout: 5 }) };
}

export type Db = ReturnType<typeof createDb>["db"];
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
/** Query functions take either the pool or an open transaction. */
export type DbOrTx = Db | Tx;

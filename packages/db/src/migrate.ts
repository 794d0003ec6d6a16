import { fileURLToPath } from "node:url";
import { migrate } from "drizzle-orm/postgres-js/migrator";
import { createDb } from "./client.ts";

const packageMigrations = fileURLToPath(new URL("../drizzle", import.meta.url));
// Any constant works; it only has to be the same in every process that migrates.
const MIGRATION_LOCK = 7_020_301;

/**
 * Applies the committed migrations under an advisory lock, so several processes starting at
 * once migrate exactly once. Uses one connection so the lock and the migration share a session.
 * A bundled app passes the copy shipped beside it (`migrationsFolder`).
 */
export async function runMigrations(
  url: string,
  migrationsFolder = packageMigrations,
): Promise<void> {
  const { db, sql, close } = createDb({ url, max: 1, applicationName: "osm-migrate" });
  try {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK})`;
    await migrate(db, { migrationsFolder });
    await sql`select pg_advisory_unlock(${MIGRATION_LOCK})`;
  } finally {
    await close();
  }
}

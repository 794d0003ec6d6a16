// `node apps/api/dist/migrate.js`: applies the database migrations once per deployment (or per
// release), before the apps start. Safe to run from several hosts at once (advisory lock).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { runMigrations } from "@osm/db/migrate";
import { parseMigrateEnv } from "./env.ts";

const env = parseMigrateEnv(process.env);
if (!env.ok) {
  console.error(env.line);
  process.exit(1);
}
// Bundled into dist/, the migrations are copied beside the bundle; from source, the package's.
const beside = fileURLToPath(new URL("./drizzle", import.meta.url));
try {
  await runMigrations(env.config.databaseUrl, existsSync(beside) ? beside : undefined);
} catch (err) {
  console.error(`osm migrate: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
console.log("osm migrate: the database is up to date");

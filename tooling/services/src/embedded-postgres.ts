import { chmodSync, mkdirSync, statSync } from "node:fs";
import postgres from "postgres";
import { postgresDirOf } from "./paths.ts";
import { type RunningPostgres, startPostgres } from "./postgres.ts";

/** The database osm uses inside the embedded cluster. */
export const embeddedDatabase = "osm";

// As root the server runs as the `postgres` user, which must be able to pass through the data
// dir to reach its own subdirectory (mkdtemp and some umasks make it 0700).
function letServerUserTraverse(dataDir: string): void {
  if (process.getuid?.() !== 0) return;
  const mode = statSync(dataDir).mode & 0o7777;
  if ((mode & 0o001) === 0) chmodSync(dataDir, mode | 0o001);
}

async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const rows = await admin`select 1 from pg_database where datname = ${name}`;
    if (rows.length === 0) await admin.unsafe(`create database "${name}"`);
  } finally {
    await admin.end();
  }
}

/** Starts (initialising on first use) the cluster under `<dataDir>/postgres` and its `osm` database. */
export async function startEmbeddedPostgres(
  dataDir: string,
  port: number,
): Promise<{ pg: RunningPostgres; url: string }> {
  letServerUserTraverse(dataDir);
  const dir = postgresDirOf(dataDir);
  mkdirSync(dir, { recursive: true });
  const pg = startPostgres({ dataDir: dir, port });
  try {
    await ensureDatabase(pg.adminUrl, embeddedDatabase);
  } catch (error) {
    pg.stop();
    throw error;
  }
  return { pg, url: pg.urlFor(embeddedDatabase) };
}

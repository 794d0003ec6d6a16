import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runMigrations } from "@osm/db/migrate";
import { freePort } from "@osm/services/ports";
import { startPostgres } from "@osm/services/postgres";
import { startRedis } from "@osm/services/redis";
import postgres from "postgres";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    pgAdminUrl: string;
    pgTemplate: string;
    redisUrl: string;
  }
}

export const TEMPLATE_DATABASE = "osm_template";

/**
 * Starts one real PostgreSQL and one real Redis for the whole run and migrates a template
 * database once; each test file then clones the template (fast) and uses its own Redis prefix.
 */
export default async function setup(project: TestProject) {
  const dataDir = mkdtempSync(join(tmpdir(), "osm-test-"));
  const pg = startPostgres({ dataDir, port: await freePort(), ephemeral: true });
  const redis = await startRedis({ port: await freePort() });

  const admin = postgres(pg.adminUrl, { onnotice: () => {} });
  await admin.unsafe(`create database ${TEMPLATE_DATABASE}`);
  await admin.end();
  await runMigrations(pg.urlFor(TEMPLATE_DATABASE));

  project.provide("pgAdminUrl", pg.adminUrl);
  project.provide("pgTemplate", TEMPLATE_DATABASE);
  project.provide("redisUrl", redis.url);

  return async () => {
    await redis.stop();
    pg.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
}

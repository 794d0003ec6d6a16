import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runMigrations } from "@osm/db/migrate";
import { freePort } from "@osm/services/ports";
import { startPostgres } from "@osm/services/postgres";
import { startRedis } from "@osm/services/redis";
import postgres from "postgres";
import type { TestProject } from "vitest/node";
import "./provided-context.ts";

export const TEMPLATE_DATABASE = "osm_template";

/**
 * One real PostgreSQL for the whole run with a template database migrated once; each test file
 * then clones the template (fast). Shared by both global setups.
 */
export async function startTestPostgres(project: TestProject) {
  const dataDir = mkdtempSync(join(tmpdir(), "osm-test-"));
  const pg = startPostgres({ dataDir, port: await freePort(), ephemeral: true });
  const admin = postgres(pg.adminUrl, { onnotice: () => {} });
  await admin.unsafe(`create database ${TEMPLATE_DATABASE}`);
  await admin.end();
  await runMigrations(pg.urlFor(TEMPLATE_DATABASE));
  project.provide("pgAdminUrl", pg.adminUrl);
  project.provide("pgTemplate", TEMPLATE_DATABASE);
  return {
    dataDir,
    stop() {
      pg.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** PostgreSQL and one real Redis; each test file uses its own Redis prefix. */
export default async function setup(project: TestProject) {
  const pg = await startTestPostgres(project);
  const redis = await startRedis({ port: await freePort() });
  project.provide("redis", { mode: "single", url: redis.url });
  return async () => {
    await redis.stop();
    pg.stop();
  };
}

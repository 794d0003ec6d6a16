import { randomBytes } from "node:crypto";
import { createDb } from "@osm/db/client";
import postgres from "postgres";
import { inject } from "vitest";
import "./provided-context.ts";

export type TestServices = Awaited<ReturnType<typeof createTestServices>>;

/**
 * A database of its own (cloned from the migrated template) and a Redis key prefix of its own,
 * so test files run in parallel without seeing each other. Call once per file (beforeAll).
 */
export async function createTestServices() {
  const suffix = randomBytes(6).toString("hex");
  const database = `t_${suffix}`;
  const adminUrl = inject("pgAdminUrl");
  const admin = postgres(adminUrl, { onnotice: () => {}, max: 1 });
  await admin.unsafe(`create database ${database} template ${inject("pgTemplate")}`);
  await admin.end();
  const databaseUrl = adminUrl.replace(/\/postgres$/, `/${database}`);
  const handle = createDb({ url: databaseUrl, max: 5, applicationName: "osm-test" });
  return {
    databaseUrl,
    redis: inject("redis"),
    redisPrefix: `t${suffix}:`,
    db: handle.db,
    sql: handle.sql,
    async close() {
      await handle.close();
      const drop = postgres(adminUrl, { onnotice: () => {}, max: 1 });
      await drop.unsafe(`drop database if exists ${database} with (force)`);
      await drop.end();
    },
  };
}

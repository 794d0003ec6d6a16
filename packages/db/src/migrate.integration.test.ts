import { readFileSync } from "node:fs";
import { createTestServices, type TestServices } from "@osm/testing/context";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runMigrations } from "./migrate.ts";

let services: TestServices;
beforeAll(async () => {
  services = await createTestServices();
});
afterAll(() => services.close());

describe("migrations", () => {
  it("are already applied to the clone and re-apply as a no-op, also concurrently", async () => {
    await Promise.all([runMigrations(services.databaseUrl), runMigrations(services.databaseUrl)]);
    const [row] = await services.sql`select count(*)::int as n from drizzle.__drizzle_migrations`;
    const journal = JSON.parse(
      readFileSync(new URL("../drizzle/meta/_journal.json", import.meta.url), "utf8"),
    );
    expect(row?.n).toBe(journal.entries.length);
  });

  it("make the audit log append-only", async () => {
    await services.sql`insert into audit_log (id, actor_type, action, target_type) values ('aud_1', 'system', 'test', 'test')`;
    await expect(services.sql`update audit_log set action = 'x'`).rejects.toThrow(/append-only/);
    await expect(services.sql`delete from audit_log`).rejects.toThrow(/append-only/);
  });
});

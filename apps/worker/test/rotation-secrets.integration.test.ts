import { createTestServices, type TestServices } from "@osm/testing/context";
import { pino } from "pino";
import { afterAll, beforeAll, expect, it } from "vitest";
import { runHousekeeping } from "../src/processors/housekeeping/run-housekeeping.ts";

// A replayable rotation keeps its new secret sealed for 24 h; housekeeping deletes it after.

let services: TestServices;

beforeAll(async () => {
  services = await createTestServices();
});

afterAll(async () => {
  await services?.close();
});

it("a housekeeping pass deletes the saved secrets of rotations older than 24 h, and only those", async () => {
  const now = new Date("2025-03-10T12:00:00.000Z");
  const hoursAgo = (h: number) => new Date(now.getTime() - h * 3600_000).toISOString();
  await services.sql`insert into projects (id, name) values ('prj_rot', 'rotations')`;
  await services.sql`
    insert into api_keys (id, project_id, label, secret_hash, display)
    values ('key_rot', 'prj_rot', 'k', 'hash-rot', 'osm_…rot')`;
  await services.sql`
    insert into key_rotations (key_id, idempotency_key, sealed_secret, actor_type, created_at) values
      ('key_rot', 'a-day-and-a-second-old', 'sealed-1', 'master', ${new Date(now.getTime() - 24 * 3600_000 - 1000).toISOString()}),
      ('key_rot', 'two-days-old-0000000', 'sealed-2', 'master', ${hoursAgo(48)}),
      ('key_rot', 'almost-a-day-old-000', 'sealed-3', 'master', ${hoursAgo(23.9)}),
      ('key_rot', 'fresh-000000000000000', 'sealed-4', 'master', ${hoursAgo(0)})`;
  const pass = await runHousekeeping(
    { db: services.db, publish: async () => {}, log: pino({ level: "silent" }) },
    now,
  );
  expect(pass.rotationSecretsDropped).toBe(2);
  const left = await services.sql<{ idempotency_key: string }[]>`
    select idempotency_key from key_rotations order by idempotency_key`;
  expect(left.map((r) => r.idempotency_key)).toEqual([
    "almost-a-day-old-000",
    "fresh-000000000000000",
  ]);
});

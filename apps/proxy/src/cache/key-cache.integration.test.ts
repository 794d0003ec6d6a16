import { updateKey } from "@osm/db/queries/keys";
import { createTestServices, type TestServices } from "@osm/testing/context";
import { afterAll, beforeAll, expect, it } from "vitest";
import { KeyCache } from "./key-cache.ts";
import { SeenVersions } from "./versions.ts";

// The lifetime bounds staleness when an invalidation message is lost; a refill after it must
// see any change, and (the memory side) must not replace an unchanged entry with a copy.

let services: TestServices;
beforeAll(async () => {
  services = await createTestServices();
});
afterAll(() => services.close());

async function seedKey(label: string) {
  const projectId = `prj_${Math.random().toString(36).slice(2, 10)}`;
  const id = `key_${projectId.slice(4)}`;
  const hash = `hash_${id}`;
  await services.sql`insert into projects (id, name) values (${projectId}, ${label})`;
  await services.sql`insert into api_keys (id, project_id, label, secret_hash, display)
    values (${id}, ${projectId}, ${label}, ${hash}, 'osm_x…x')`;
  return { id, hash };
}

function cacheWithClock() {
  let now = Date.now();
  const cache = new KeyCache(services.db, new SeenVersions(), 100, () => now);
  return { cache, advance: (ms: number) => (now += ms) };
}

it("renews an unchanged key after its lifetime without replacing the cached entry", async () => {
  const { hash } = await seedKey("unchanged");
  const { cache, advance } = cacheWithClock();
  const first = await cache.lookup(hash);
  expect(first?.enabled).toBe(true);
  expect(cache.misses).toBe(1);

  advance(61_000);
  expect(cache.isCached(hash)).toBe(false);
  const again = await cache.lookup(hash);
  expect(cache.misses).toBe(2);
  expect(again).toBe(first);
  // Renewed for a whole lifetime: the next lookup is a hit.
  await cache.lookup(hash);
  expect(cache.misses).toBe(2);
});

it("sees a change after its lifetime even when the invalidation never arrived", async () => {
  const { id, hash } = await seedKey("changed");
  const { cache, advance } = cacheWithClock();
  const first = await cache.lookup(hash);
  expect(first?.enabled).toBe(true);

  await updateKey(services.db, id, { enabled: false }, new Date());
  // Within the lifetime the cache answers (the invalidation is what drops it sooner).
  expect((await cache.lookup(hash))?.enabled).toBe(true);
  advance(61_000);
  const refilled = await cache.lookup(hash);
  expect(refilled).not.toBe(first);
  expect(refilled?.enabled).toBe(false);
  expect(refilled?.version).toBeGreaterThan(first?.version ?? Number.POSITIVE_INFINITY);
});

it("forgets a key revoked by a change whose message was lost, once its lifetime ends", async () => {
  const { id, hash } = await seedKey("revoked");
  const { cache, advance } = cacheWithClock();
  expect(await cache.lookup(hash)).not.toBeNull();
  await updateKey(services.db, id, { revokedAt: new Date() }, new Date());
  advance(61_000);
  const after = await cache.lookup(hash);
  expect(after === null || after.revokedAt !== null).toBe(true);
});

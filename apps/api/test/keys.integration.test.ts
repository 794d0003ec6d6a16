import { hashSecret, parseSecret } from "@osm/keys/secrets";
import { type ApiClient, apiClient, startTestApi, testMasterKey } from "@osm/testing/api";
import { createTestServices, type TestServices } from "@osm/testing/context";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callError, stringify } from "./helpers.ts";

// API keys through the management API: the secret is shown once, status is derived from stored
// state, and rotation, limits and resets behave as the contract says.

let services: TestServices;
let api: Awaited<ReturnType<typeof startTestApi>>;
let master: ApiClient;
let projectId: string;

const hour = 3600_000;
const today = () => new Date().toISOString().slice(0, 10);

beforeAll(async () => {
  services = await createTestServices();
  api = await startTestApi(services);
  master = apiClient(api.url, { bearer: testMasterKey });
  projectId = (await master.projects.create.mutate({ name: "Keys" })).id;
});

afterAll(async () => {
  await api?.close();
  await services?.close();
});

async function row(id: string) {
  const [r] = await services.sql<
    {
      secret_hash: string;
      previous_secret_hash: string | null;
      /** Milliseconds since the epoch. */
      grace_until: number | null;
      version: bigint;
      enabled: boolean;
      limit_reached: boolean;
      spend_limit: bigint | null;
    }[]
  >`select secret_hash, previous_secret_hash,
           (extract(epoch from grace_until) * 1000)::float8 as grace_until,
           version, enabled, limit_reached, spend_limit
    from api_keys where id = ${id}`;
  return r!;
}

async function addSpend(keyId: string, nanos: bigint, day = today()) {
  await services.sql`
    insert into key_spend_daily (key_id, day, cost, requests) values (${keyId}, ${day}, ${nanos}, 1)`;
}

async function auditCount(keyId: string, action: string): Promise<number> {
  const [r] = await services.sql<{ n: number }[]>`
    select count(*)::int as n from audit_log where target_id = ${keyId} and action = ${action}`;
  return r!.n;
}

/** The secret and its stored form appear nowhere in a response. */
function expectNoSecret(response: unknown, secret: string) {
  const text = stringify(response);
  expect(text).not.toContain(secret);
  expect(text).not.toContain(hashSecret(secret));
}

describe("create", () => {
  it("returns the secret once, in the contract's shape, and stores only its SHA-256", async () => {
    const { key, secret } = await master.keys.create.mutate({
      projectId,
      label: "first",
      spendLimitUsd: "25",
      budgetPeriod: "monthly",
      policy: { models: { allow: ["gpt-4o*"] } },
    });
    expect(parseSecret(secret)).toEqual({ kind: "apiKey" });
    expect(key.display).toBe(`osm_${secret.slice(4, 8)}\u2026${secret.slice(-4)}`);
    expect(key).toMatchObject({
      projectId,
      label: "first",
      status: "active",
      enabled: true,
      spendUsd: "0",
      reservedUsd: "0",
      lifetimeSpendUsd: "0",
      spendLimitUsd: "25",
      budgetPeriod: "monthly",
      policy: { models: { allow: ["gpt-4o*"] } },
      expiresAt: null,
      lastUsedAt: null,
      rotation: null,
    });
    expect(key.windowResetsAt).toBeInstanceOf(Date);
    expect(Object.keys(key).sort()).toEqual(
      [
        "id",
        "projectId",
        "label",
        "display",
        "status",
        "enabled",
        "spendUsd",
        "reservedUsd",
        "lifetimeSpendUsd",
        "spendLimitUsd",
        "budgetPeriod",
        "windowResetsAt",
        "policy",
        "expiresAt",
        "lastUsedAt",
        "createdAt",
        "rotation",
      ].sort(),
    );
    expectNoSecret(key, secret);
    expect((await row(key.id)).secret_hash).toBe(hashSecret(secret));

    // Never again: not from get, not from list.
    expectNoSecret(await master.keys.get.query({ id: key.id }), secret);
    expectNoSecret(await master.keys.list.query({ projectId }), secret);
  });

  it("gives a new key full access: an empty policy and no limit", async () => {
    const { key } = await master.keys.create.mutate({ projectId, label: "defaults" });
    expect(key).toMatchObject({ policy: {}, spendLimitUsd: null, budgetPeriod: "none" });
    expect(key.windowResetsAt).toBeNull();
  });

  it("refuses an expiry in the past or now, and writes nothing", async () => {
    const before = await services.sql`select count(*)::int as n from api_keys`;
    for (const expiresAt of [new Date(Date.now() - hour), new Date(Date.now() - 1000)]) {
      const err = await callError(
        master.keys.create.mutate({ projectId, label: "old", expiresAt }),
      );
      expect(err).toMatchObject({
        code: "BAD_REQUEST",
        message: "expiresAt must be in the future.",
      });
    }
    const after = await services.sql`select count(*)::int as n from api_keys`;
    expect(after[0]!.n).toBe(before[0]!.n);
    const { key } = await master.keys.create.mutate({ projectId, label: "fine" });
    const err = await callError(
      master.keys.update.mutate({ id: key.id, expiresAt: new Date(Date.now() - hour) }),
    );
    expect(err).toMatchObject({ code: "BAD_REQUEST", message: "expiresAt must be in the future." });
    expect((await master.keys.get.query({ id: key.id })).expiresAt).toBeNull();
  });
});

describe("status", () => {
  let ids: Record<string, string>;
  let statusProject: string;

  beforeAll(async () => {
    statusProject = (await master.projects.create.mutate({ name: "Statuses" })).id;
    const make = async (label: string, sql?: string) => {
      const { key } = await master.keys.create.mutate({ projectId: statusProject, label });
      if (sql) await services.sql.unsafe(`update api_keys set ${sql} where id = $1`, [key.id]);
      return key.id;
    };
    const past = "now() - interval '1 hour'";
    ids = {
      active: await make("Plain Active"),
      // Every flag set: revoked wins.
      revoked: await make(
        "Revoked key",
        `revoked_at = now(), expires_at = ${past}, enabled = false, limit_reached = true`,
      ),
      expired: await make(
        "Expired 100%",
        `expires_at = ${past}, enabled = false, limit_reached = true`,
      ),
      inactive: await make("Inactive_one", "enabled = false, limit_reached = true"),
      limit_reached: await make("Over budget", "limit_reached = true"),
      // Expiring later is still active.
      future: await make("Future expiry", "expires_at = now() + interval '1 day'"),
    };
  });

  it("derives revoked > expired > inactive > limit_reached > active", async () => {
    const list = await master.keys.list.query({ projectId: statusProject });
    const status = Object.fromEntries(list.items.map((k) => [k.id, k.status]));
    expect(status).toEqual({
      [ids.active!]: "active",
      [ids.revoked!]: "revoked",
      [ids.expired!]: "expired",
      [ids.inactive!]: "inactive",
      [ids.limit_reached!]: "limit_reached",
      [ids.future!]: "active",
    });
    expect((await master.keys.get.query({ id: ids.expired! })).status).toBe("expired");
  });

  it("filters the list by status", async () => {
    const byStatus = async (
      status: "active" | "revoked" | "expired" | "inactive" | "limit_reached",
    ) =>
      (await master.keys.list.query({ projectId: statusProject, status })).items
        .map((k) => k.id)
        .sort();
    expect(await byStatus("active")).toEqual([ids.active!, ids.future!].sort());
    expect(await byStatus("revoked")).toEqual([ids.revoked!]);
    expect(await byStatus("expired")).toEqual([ids.expired!]);
    expect(await byStatus("inactive")).toEqual([ids.inactive!]);
    expect(await byStatus("limit_reached")).toEqual([ids.limit_reached!]);
  });

  it("filters the list by q: label substring in any case, or the exact id", async () => {
    const byQ = async (q: string) =>
      (await master.keys.list.query({ projectId: statusProject, q })).items.map((k) => k.id).sort();
    expect(await byQ("active")).toEqual([ids.active!, ids.inactive!].sort());
    expect(await byQ("OVER")).toEqual([ids.limit_reached!]);
    expect(await byQ(ids.revoked!)).toEqual([ids.revoked!]);
    // LIKE wildcards are matched literally.
    expect(await byQ("%")).toEqual([ids.expired!]);
    expect(await byQ("_")).toEqual([ids.inactive!]);
    expect(await byQ("nothing like it")).toEqual([]);
    // Both filters at once.
    expect(
      (
        await master.keys.list.query({ projectId: statusProject, q: "active", status: "inactive" })
      ).items.map((k) => k.id),
    ).toEqual([ids.inactive!]);
  });

  it("pages through the list with a cursor, newest first", async () => {
    const first = await master.keys.list.query({ projectId: statusProject, limit: 4 });
    expect(first.items).toHaveLength(4);
    expect(first.nextCursor).not.toBeNull();
    const second = await master.keys.list.query({
      projectId: statusProject,
      limit: 4,
      cursor: first.nextCursor!,
    });
    expect(second.items).toHaveLength(2);
    expect(second.nextCursor).toBeNull();
    const all = [...first.items, ...second.items].map((k) => k.id);
    expect(new Set(all).size).toBe(6);
    expect(all).toEqual([...all].sort().reverse());
  });
});

describe("rotate", () => {
  it("keeps id, policy, limit and spend, and returns a new secret", async () => {
    const created = await master.keys.create.mutate({
      projectId,
      label: "rotating",
      spendLimitUsd: "100",
      budgetPeriod: "monthly",
      policy: { tiers: ["paid"], maxTokensPerRequest: 1000 },
    });
    await addSpend(created.key.id, 1_500_000_000n);
    const before = await master.keys.get.query({ id: created.key.id });
    expect(before.spendUsd).toBe("1.5");

    const grace = 3600;
    const t0 = Date.now();
    const rotated = await master.keys.rotate.mutate({
      id: created.key.id,
      gracePeriodSeconds: grace,
    });
    expect(rotated.secret).not.toBe(created.secret);
    expect(parseSecret(rotated.secret)).toEqual({ kind: "apiKey" });
    expect(rotated.key).toMatchObject({
      id: created.key.id,
      policy: { tiers: ["paid"], maxTokensPerRequest: 1000 },
      spendLimitUsd: "100",
      budgetPeriod: "monthly",
      spendUsd: "1.5",
      lifetimeSpendUsd: "1.5",
      status: "active",
      createdAt: created.key.createdAt,
    });
    expect(rotated.key.display).not.toBe(created.key.display);
    const graceUntil = rotated.key.rotation!.graceUntil.getTime();
    expect(graceUntil).toBeGreaterThanOrEqual(t0 + grace * 1000 - 1000);
    expect(graceUntil).toBeLessThanOrEqual(Date.now() + grace * 1000 + 1000);
    expectNoSecret(rotated.key, rotated.secret);
    expectNoSecret(rotated.key, created.secret);

    const stored = await row(created.key.id);
    expect(stored.secret_hash).toBe(hashSecret(rotated.secret));
    expect(stored.previous_secret_hash).toBe(hashSecret(created.secret));
    expect(stored.grace_until).toBe(graceUntil);
    expect((await master.keys.get.query({ id: created.key.id })).rotation).toEqual({
      graceUntil: rotated.key.rotation!.graceUntil,
    });
  });

  it("a retried rotate with the same idempotencyKey returns the same secret and rotates once", async () => {
    const created = await master.keys.create.mutate({ projectId, label: "idempotent" });
    const first = await master.keys.rotate.mutate({
      id: created.key.id,
      gracePeriodSeconds: 600,
      idempotencyKey: "rotate-1-0123456789",
    });
    const afterFirst = await row(created.key.id);
    const retry = await master.keys.rotate.mutate({
      id: created.key.id,
      gracePeriodSeconds: 600,
      idempotencyKey: "rotate-1-0123456789",
    });
    expect(retry.secret).toBe(first.secret);
    expect(retry.key.display).toBe(first.key.display);
    const afterRetry = await row(created.key.id);
    expect(afterRetry).toEqual(afterFirst);
    expect(afterRetry.previous_secret_hash).toBe(hashSecret(created.secret));
    expect(await auditCount(created.key.id, "key.rotate")).toBe(1);

    // A different idempotency key is a new rotation.
    const other = await master.keys.rotate.mutate({
      id: created.key.id,
      gracePeriodSeconds: 600,
      idempotencyKey: "rotate-2-0123456789",
    });
    expect(other.secret).not.toBe(first.secret);
    expect(await auditCount(created.key.id, "key.rotate")).toBe(2);
  });

  it("a replay goes only to the caller who rotated, is audited, and only while the secret is live", async () => {
    const created = await master.keys.create.mutate({ projectId, label: "replay rules" });
    const idempotencyKey = "replay-rules-0123456789";
    const rotate = (client: ApiClient) =>
      client.keys.rotate.mutate({ id: created.key.id, gracePeriodSeconds: 0, idempotencyKey });
    const first = await rotate(master);
    const { secret: tokenSecret } = await master.tokens.create.mutate({
      projectId,
      label: "another caller",
      role: "member",
    });
    const other = apiClient(api.url, { bearer: tokenSecret });
    const stolen = await callError(rotate(other));
    expect(stolen).toMatchObject({ code: "CONFLICT" });
    expect(stringify(stolen)).not.toContain(first.secret);
    expect(await auditCount(created.key.id, "key.rotate_replay")).toBe(0);

    expect((await rotate(master)).secret).toBe(first.secret);
    expect(await auditCount(created.key.id, "key.rotate_replay")).toBe(1);

    // After another rotation the saved secret is dead: it is never handed out again.
    await master.keys.rotate.mutate({ id: created.key.id, gracePeriodSeconds: 0 });
    const stale = await callError(rotate(master));
    expect(stale).toMatchObject({ code: "CONFLICT" });
    expect(stringify(stale)).not.toContain(first.secret);
    expect(await auditCount(created.key.id, "key.rotate_replay")).toBe(1);
    expect(await auditCount(created.key.id, "key.rotate")).toBe(2);
  });

  it("the idempotencyKey belongs to one key", async () => {
    const a = await master.keys.create.mutate({ projectId, label: "a" });
    const b = await master.keys.create.mutate({ projectId, label: "b" });
    const ra = await master.keys.rotate.mutate({
      id: a.key.id,
      gracePeriodSeconds: 0,
      idempotencyKey: "same-0123456789abc",
    });
    const rb = await master.keys.rotate.mutate({
      id: b.key.id,
      gracePeriodSeconds: 0,
      idempotencyKey: "same-0123456789abc",
    });
    expect(rb.secret).not.toBe(ra.secret);
    expect((await row(b.key.id)).secret_hash).toBe(hashSecret(rb.secret));
  });

  it("a second rotation replaces the previous secret, ending the earlier grace", async () => {
    const created = await master.keys.create.mutate({ projectId, label: "twice" });
    const one = await master.keys.rotate.mutate({ id: created.key.id, gracePeriodSeconds: 3600 });
    const two = await master.keys.rotate.mutate({ id: created.key.id, gracePeriodSeconds: 3600 });
    const stored = await row(created.key.id);
    expect(stored.secret_hash).toBe(hashSecret(two.secret));
    expect(stored.previous_secret_hash).toBe(hashSecret(one.secret));
    // The original secret is gone from the row altogether.
    expect(stringify(stored)).not.toContain(hashSecret(created.secret));

    // Without a grace, no old secret survives at all.
    const three = await master.keys.rotate.mutate({ id: created.key.id, gracePeriodSeconds: 0 });
    const after = await row(created.key.id);
    expect(after.secret_hash).toBe(hashSecret(three.secret));
    expect(after.previous_secret_hash).toBeNull();
    expect(after.grace_until).toBeNull();
    expect(three.key.rotation).toBeNull();
  });

  it("never lets the grace run past expiresAt", async () => {
    const expiresAt = new Date(Date.now() + hour);
    const created = await master.keys.create.mutate({ projectId, label: "expiring", expiresAt });
    const rotated = await master.keys.rotate.mutate({
      id: created.key.id,
      gracePeriodSeconds: 30 * 24 * 3600,
    });
    expect(rotated.key.rotation!.graceUntil.getTime()).toBe(expiresAt.getTime());
    expect(rotated.key.expiresAt!.getTime()).toBe(expiresAt.getTime());
    expect((await row(created.key.id)).grace_until).toBe(expiresAt.getTime());
  });

  it("refuses to rotate a revoked key", async () => {
    const created = await master.keys.create.mutate({ projectId, label: "revoked" });
    const revoked = await master.keys.revoke.mutate({ id: created.key.id });
    expect(revoked.status).toBe("revoked");
    const before = await row(created.key.id);
    for (const idempotencyKey of [undefined, "after-revoke-0123456789"]) {
      const err = await callError(
        master.keys.rotate.mutate({ id: created.key.id, gracePeriodSeconds: 60, idempotencyKey }),
      );
      expect(err).toMatchObject({
        code: "PRECONDITION_FAILED",
        message: "A revoked key cannot be rotated.",
      });
    }
    expect(await row(created.key.id)).toEqual(before);
  });

  it("revoking ends a rotation grace at once", async () => {
    const created = await master.keys.create.mutate({ projectId, label: "grace then revoke" });
    await master.keys.rotate.mutate({ id: created.key.id, gracePeriodSeconds: 3600 });
    const revoked = await master.keys.revoke.mutate({ id: created.key.id });
    expect(revoked.rotation).toBeNull();
    const stored = await row(created.key.id);
    expect(stored.previous_secret_hash).toBeNull();
    expect(stored.grace_until).toBeNull();
  });
});

describe("limits", () => {
  it("raising the limit clears limitReached but never touches enabled", async () => {
    const { key } = await master.keys.create.mutate({
      projectId,
      label: "limited",
      spendLimitUsd: "10",
      budgetPeriod: "daily",
    });
    await services.sql`update api_keys set limit_reached = true, enabled = false where id = ${key.id}`;

    // Other changes and a lower limit keep the flag.
    await master.keys.update.mutate({ id: key.id, label: "limited, renamed" });
    expect(await row(key.id)).toMatchObject({ limit_reached: true, enabled: false });
    await master.keys.update.mutate({ id: key.id, spendLimitUsd: "5" });
    expect(await row(key.id)).toMatchObject({ limit_reached: true, enabled: false });
    await master.keys.update.mutate({ id: key.id, spendLimitUsd: "5.000" });
    expect(await row(key.id)).toMatchObject({ limit_reached: true, enabled: false });

    const raised = await master.keys.update.mutate({ id: key.id, spendLimitUsd: "20" });
    expect(await row(key.id)).toMatchObject({
      limit_reached: false,
      enabled: false,
      spend_limit: 20_000_000_000n,
    });
    expect(raised).toMatchObject({ status: "inactive", enabled: false, spendLimitUsd: "20" });

    // With the key enabled again by a person, it is simply active.
    await services.sql`update api_keys set limit_reached = true where id = ${key.id}`;
    expect((await master.keys.get.query({ id: key.id })).status).toBe("inactive");
    const enabled = await master.keys.setActive.mutate({ id: key.id, active: true });
    expect(enabled.status).toBe("limit_reached");
    const removed = await master.keys.update.mutate({ id: key.id, spendLimitUsd: null });
    expect(removed).toMatchObject({ status: "active", spendLimitUsd: null, enabled: true });
  });

  it("resetSpend clears limitReached and the window's spend, never enabled or lifetime spend", async () => {
    const { key } = await master.keys.create.mutate({
      projectId,
      label: "reset me",
      spendLimitUsd: "2",
      budgetPeriod: "monthly",
    });
    await addSpend(key.id, 2_000_000_000n);
    await services.sql`update api_keys set limit_reached = true, enabled = false where id = ${key.id}`;
    expect(await master.keys.get.query({ id: key.id })).toMatchObject({
      spendUsd: "2",
      status: "inactive",
    });

    const reset = await master.keys.resetSpend.mutate({ id: key.id });
    expect(reset).toMatchObject({
      spendUsd: "0",
      lifetimeSpendUsd: "2",
      enabled: false,
      status: "inactive",
      spendLimitUsd: "2",
    });
    expect(await row(key.id)).toMatchObject({ limit_reached: false, enabled: false });
    const activated = await master.keys.setActive.mutate({ id: key.id, active: true });
    expect(activated.status).toBe("active");
  });

  it("setActive flips only enabled", async () => {
    const { key } = await master.keys.create.mutate({ projectId, label: "toggle" });
    await services.sql`update api_keys set limit_reached = true where id = ${key.id}`;
    const off = await master.keys.setActive.mutate({ id: key.id, active: false });
    expect(off).toMatchObject({ enabled: false, status: "inactive" });
    expect(await row(key.id)).toMatchObject({ enabled: false, limit_reached: true });
    const on = await master.keys.setActive.mutate({ id: key.id, active: true });
    expect(on).toMatchObject({ enabled: true, status: "limit_reached" });
  });
});

describe("unknown keys", () => {
  it("answers NOT_FOUND for an id that does not exist", async () => {
    for (const call of [
      () => master.keys.get.query({ id: "key_doesnotexist" }),
      () => master.keys.update.mutate({ id: "key_doesnotexist", label: "x" }),
      () => master.keys.rotate.mutate({ id: "key_doesnotexist", gracePeriodSeconds: 0 }),
      () => master.keys.revoke.mutate({ id: "key_doesnotexist" }),
    ]) {
      expect((await callError(call())).code).toBe("NOT_FOUND");
    }
  });
});

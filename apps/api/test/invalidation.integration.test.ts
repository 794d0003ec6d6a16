import { type Invalidation, invalidationChannel, invalidationSchema } from "@osm/jobs/invalidation";
import { createRedis, type RedisClient } from "@osm/redis/connect";
import { type ApiClient, apiClient, startTestApi, testMasterKey } from "@osm/testing/api";
import { createTestServices, type TestServices } from "@osm/testing/context";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addMember, callError, createBareUser, password } from "./helpers.ts";

// Every change to a key, model, provider or membership is announced on Redis after it commits:
// a proxy that reacts to the message at once must already read the new row.

let services: TestServices;
let api: Awaited<ReturnType<typeof startTestApi>>;
let master: ApiClient;
let subscriber: RedisClient;
let projectId: string;

type Seen = { message: Invalidation; raw: unknown; rowVersion: number | null };
const seen: Seen[] = [];
let pending: Promise<void>[] = [];

/** The row's version as PostgreSQL shows it right now, or null when the row is gone. */
async function currentVersion(kind: Invalidation["kind"], id: string): Promise<number | null> {
  const sql = services.sql;
  let rows: { version: string }[];
  switch (kind) {
    case "key":
      rows = await sql`select version::text from api_keys where id = ${id}`;
      break;
    case "model":
      rows = await sql`select version::text from models where id = ${id}`;
      break;
    case "provider":
      rows = await sql`select version::text from providers where id = ${id}`;
      break;
    case "project":
      rows = await sql`select version::text from projects where id = ${id}`;
      break;
    case "membership": {
      const [project, user] = id.split(":") as [string, string];
      rows = await sql`
        select version::text from memberships where project_id = ${project} and user_id = ${user}`;
      break;
    }
  }
  return rows[0] ? Number(rows[0].version) : null;
}

/**
 * Makes every commit that touches a cached row linger for a moment before it becomes visible
 * (a deferred trigger sleeps at COMMIT), in this test's own database only. A message published
 * before the commit then reliably finds the old row, instead of only when the timing is unlucky.
 */
async function slowCommits() {
  await services.sql`
    create function osm_test_slow_commit() returns trigger language plpgsql as $$
    begin
      perform pg_sleep(0.03);
      return null;
    end $$`;
  for (const table of ["api_keys", "models", "providers", "memberships", "projects"]) {
    await services.sql.unsafe(`
      create constraint trigger osm_test_slow_commit
      after insert or update or delete on ${table}
      deferrable initially deferred
      for each row execute function osm_test_slow_commit()`);
  }
}

beforeAll(async () => {
  services = await createTestServices();
  await slowCommits();
  api = await startTestApi(services);
  master = apiClient(api.url, { bearer: testMasterKey });
  subscriber = createRedis(services.redis, { maxRetriesPerRequest: 2 });
  subscriber.on("message", (_channel: string, text: string) => {
    const raw: unknown = JSON.parse(text);
    const message = invalidationSchema.parse(raw);
    // Look the row up the moment the message arrives, as a proxy would.
    pending.push(
      currentVersion(message.kind, message.id).then((rowVersion) => {
        seen.push({ message, raw, rowVersion });
      }),
    );
  });
  await subscriber.subscribe(invalidationChannel(services.redisPrefix));
  projectId = (await master.projects.create.mutate({ name: "Invalidation" })).id;
  // Wait for this change's own message, so it cannot spill into the first test.
  const setup = await messagesOf(() =>
    master.providers.create.mutate({
      projectId,
      id: "prov",
      kind: "openai",
      baseUrl: "http://127.0.0.1:9/v1",
      apiKey: "sk-test",
    }),
  );
  expect(setup.map((m) => m.message.kind)).toEqual(["provider"]);
});

afterAll(async () => {
  subscriber?.disconnect();
  await api?.close();
  await services?.close();
});

/** Runs a change and returns the messages it caused (waiting for `count` of them). */
async function messagesOf(change: () => Promise<unknown>, count = 1): Promise<Seen[]> {
  await settle();
  const start = seen.length;
  await change();
  const deadline = Date.now() + 3000;
  while (seen.length - start < count && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 5));
    await Promise.all(pending);
  }
  // Give a stray extra message the chance to show up (longer when none is expected at all).
  await new Promise((r) => setTimeout(r, count === 0 ? 150 : 30));
  await settle();
  return seen.slice(start);
}

async function settle() {
  await Promise.all(pending);
  pending = [];
}

/** One message for the row, already visible in PostgreSQL when it arrived. */
function expectVisible(messages: Seen[], kind: Invalidation["kind"], id: string) {
  expect(messages.map((m) => ({ kind: m.message.kind, id: m.message.id }))).toEqual([{ kind, id }]);
  const [m] = messages as [Seen];
  expect(m.rowVersion).toBe(m.message.version);
  return m.message;
}

async function internalId(table: "models" | "providers", slug: string): Promise<string> {
  const [row] = await services.sql.unsafe<{ id: string }[]>(
    `select id from ${table} where project_id = $1 and slug = $2`,
    [projectId, slug],
  );
  return row!.id;
}

describe("keys", () => {
  it("create, update, setActive, rotate, resetSpend and revoke each announce the committed version", async () => {
    let keyId = "";
    const created = await messagesOf(async () => {
      keyId = (await master.keys.create.mutate({ projectId, label: "watched" })).key.id;
    });
    const v1 = expectVisible(created, "key", keyId);
    expect(v1.event).toBe("created");
    expect(Object.keys(created[0]!.raw as object).sort()).toEqual([
      "event",
      "id",
      "kind",
      "version",
    ]);

    const versions = [v1.version];
    const changes: [string, () => Promise<unknown>][] = [
      [
        "update",
        () => master.keys.update.mutate({ id: keyId, label: "renamed", spendLimitUsd: "5" }),
      ],
      ["setActive", () => master.keys.setActive.mutate({ id: keyId, active: false })],
      ["setActive", () => master.keys.setActive.mutate({ id: keyId, active: true })],
      [
        "rotate",
        () =>
          master.keys.rotate.mutate({
            id: keyId,
            gracePeriodSeconds: 60,
            idempotencyKey: "r-0123456789abcdef",
          }),
      ],
      ["resetSpend", () => master.keys.resetSpend.mutate({ id: keyId })],
      ["revoke", () => master.keys.revoke.mutate({ id: keyId })],
    ];
    for (const [name, change] of changes) {
      const message = expectVisible(await messagesOf(change), "key", keyId);
      expect(message.event, name).toBe("changed");
      expect(message.version, name).toBeGreaterThan(versions.at(-1)!);
      versions.push(message.version);
    }
  });

  it("a replayed rotation changes nothing and announces nothing", async () => {
    const { key } = await master.keys.create.mutate({ projectId, label: "replayed" });
    const first = await messagesOf(() =>
      master.keys.rotate.mutate({
        id: key.id,
        gracePeriodSeconds: 0,
        idempotencyKey: "once-0123456789abc",
      }),
    );
    expectVisible(first, "key", key.id);
    const replay = await messagesOf(
      () =>
        master.keys.rotate.mutate({
          id: key.id,
          gracePeriodSeconds: 0,
          idempotencyKey: "once-0123456789abc",
        }),
      0,
    );
    expect(replay).toEqual([]);
  });

  it("a refused change announces nothing", async () => {
    const { key } = await master.keys.create.mutate({ projectId, label: "refused" });
    await master.keys.revoke.mutate({ id: key.id });
    const messages = await messagesOf(async () => {
      await callError(master.keys.rotate.mutate({ id: key.id, gracePeriodSeconds: 0 }));
      await callError(master.keys.update.mutate({ id: "key_missing", label: "x" }));
    }, 0);
    expect(messages).toEqual([]);
  });
});

describe("catalog", () => {
  it("models.create and models.update announce the committed version", async () => {
    const created = await messagesOf(() =>
      master.models.create.mutate({
        projectId,
        id: "watched-model",
        providerId: "prov",
        upstreamModel: "gpt-4o-mini",
        inputUsdPer1M: "0.15",
        outputUsdPer1M: "0.6",
        tier: "paid",
      }),
    );
    const id = await internalId("models", "watched-model");
    const v1 = expectVisible(created, "model", id);
    const updated = await messagesOf(() =>
      master.models.update.mutate({
        projectId,
        id: "watched-model",
        inputUsdPer1M: "0.2",
        active: false,
      }),
    );
    expect(expectVisible(updated, "model", id).version).toBeGreaterThan(v1.version);
  });

  it("models.delete announces a version newer than the last one, after the row is gone", async () => {
    await master.models.create.mutate({
      projectId,
      id: "doomed-model",
      providerId: "prov",
      upstreamModel: "x",
      inputUsdPer1M: "1",
      outputUsdPer1M: "1",
      tier: "paid",
    });
    const id = await internalId("models", "doomed-model");
    const last = (await currentVersion("model", id))!;
    const deleted = await messagesOf(() =>
      master.models.delete.mutate({ projectId, id: "doomed-model" }),
    );
    expect(deleted.map((m) => m.message.id)).toEqual([id]);
    expect(deleted[0]!.rowVersion).toBeNull();
    expect(deleted[0]!.message.version).toBeGreaterThan(last);
  });

  it("providers.create and providers.update announce the committed version", async () => {
    const created = await messagesOf(() =>
      master.providers.create.mutate({
        projectId,
        id: "watched-provider",
        kind: "anthropic",
        baseUrl: "http://127.0.0.1:9",
        apiKey: "sk-ant",
      }),
    );
    const id = await internalId("providers", "watched-provider");
    const v1 = expectVisible(created, "provider", id);
    for (const change of [
      { baseUrl: "http://127.0.0.1:9/v1" },
      { apiKey: "sk-ant-rotated" },
      { baseUrl: "http://127.0.0.1:11", apiKey: "sk-ant-again" },
    ]) {
      const updated = await messagesOf(() =>
        master.providers.update.mutate({ projectId, id: "watched-provider", ...change }),
      );
      expect(expectVisible(updated, "provider", id).version).toBeGreaterThan(v1.version);
    }
    const deleted = await messagesOf(() =>
      master.providers.delete.mutate({ projectId, id: "watched-provider" }),
    );
    expect(deleted.map((m) => m.message.id)).toEqual([id]);
    expect(deleted[0]!.rowVersion).toBeNull();
  });
});

describe("memberships", () => {
  it("setRole, accepting an invitation and removal announce the membership", async () => {
    const user = await createBareUser(services, "member@example.com");
    await addMember(services, projectId, user.id, "viewer");
    const id = `${projectId}:${user.id}`;
    let last = (await currentVersion("membership", id))!;
    for (const role of ["admin", "member", "viewer"] as const) {
      const messages = await messagesOf(() =>
        master.members.setRole.mutate({ projectId, userId: user.id, role }),
      );
      const message = expectVisible(messages, "membership", id);
      expect(message.version).toBeGreaterThan(last);
      last = message.version;
    }

    const { inviteUrl } = await master.members.invite.mutate({
      projectId,
      email: "joiner@example.com",
      role: "member",
    });
    let joinedId = "";
    const joined = await messagesOf(async () => {
      const j = await apiClient(api.url).auth.acceptInvite.mutate({
        token: new URL(inviteUrl).hash.slice("#token=".length),
        password,
      });
      joinedId = j.id;
    });
    expectVisible(joined, "membership", `${projectId}:${joinedId}`);

    const removed = await messagesOf(() =>
      master.members.remove.mutate({ projectId, userId: user.id }),
    );
    expect(removed.map((m) => m.message)).toMatchObject([{ kind: "membership", id }]);
    expect(removed[0]!.rowVersion).toBeNull();
  });
});

describe("projects", () => {
  it("projects.update announces the committed version", async () => {
    const messages = await messagesOf(() =>
      master.projects.update.mutate({ id: projectId, name: "Invalidation, renamed" }),
    );
    expectVisible(messages, "project", projectId);
  });
});

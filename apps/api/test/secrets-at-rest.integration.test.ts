import { randomBytes } from "node:crypto";
import { hashSecret } from "@osm/keys/secrets";
import { createRedis, type RedisClient } from "@osm/redis/connect";
import {
  type ApiClient,
  apiClient,
  startTestApi,
  testMasterKey,
  testSecret,
} from "@osm/testing/api";
import { createTestServices, type TestServices } from "@osm/testing/context";
import { afterAll, beforeAll, expect, it } from "vitest";
import { sessionCookie } from "../src/actor.ts";
import { setupToken } from "../src/auth/setup-token.ts";
import { callError, password, stringify } from "./helpers.ts";

// After a busy session of the management API, no secret it handled is readable anywhere at
// rest: not in any PostgreSQL table, not under the instance's Redis prefix.

let services: TestServices;
let api: Awaited<ReturnType<typeof startTestApi>>;
let redis: RedisClient;
let owner: ApiClient;
let projectId: string;

/** Every secret the API was given or handed out, by what it is. */
const secrets: { what: string; value: string }[] = [];
const remember = (what: string, value: string) => {
  expect(value.length).toBeGreaterThanOrEqual(16);
  secrets.push({ what, value });
};

beforeAll(async () => {
  services = await createTestServices();
  api = await startTestApi(services);
  redis = createRedis(services.redis, { maxRetriesPerRequest: 2 });

  // People and sessions.
  const ownerCookies = new Map<string, string>();
  owner = apiClient(api.url, { cookies: ownerCookies });
  await owner.auth.signup.mutate({
    email: "owner@example.com",
    password,
    setupToken: setupToken(testSecret),
  });
  remember("signup session cookie", ownerCookies.get(sessionCookie)!);
  remember("password", password);
  remember("master key", testMasterKey);
  const second = new Map<string, string>();
  await apiClient(api.url, { cookies: second }).auth.login.mutate({
    email: "owner@example.com",
    password,
  });
  remember("login session cookie", second.get(sessionCookie)!);
  const wrongPassword = `wrong-${randomBytes(12).toString("hex")}`;
  await callError(
    apiClient(api.url).auth.login.mutate({ email: "owner@example.com", password: wrongPassword }),
  );
  remember("a mistyped password", wrongPassword);

  projectId = (await owner.projects.create.mutate({ name: "Secrets" })).id;

  // Invitations carry a token; accepting one starts a session.
  const { inviteUrl } = await owner.members.invite.mutate({
    projectId,
    email: "invitee@example.com",
    role: "admin",
  });
  const inviteToken = new URL(inviteUrl).hash.slice("#token=".length);
  remember("invitation token", inviteToken);
  const inviteeCookies = new Map<string, string>();
  const newPassword = `invitee-${randomBytes(12).toString("hex")}`;
  await apiClient(api.url, { cookies: inviteeCookies }).auth.acceptInvite.mutate({
    token: inviteToken,
    password: newPassword,
  });
  remember("invitee password", newPassword);
  remember("invitee session cookie", inviteeCookies.get(sessionCookie)!);

  // Provider credentials, set and then replaced.
  const providerKey = `sk-proj-${randomBytes(24).toString("hex")}`;
  await owner.providers.create.mutate({
    projectId,
    id: "openai",
    kind: "openai",
    baseUrl: "http://127.0.0.1:9/v1",
    apiKey: providerKey,
  });
  remember("provider apiKey", providerKey);
  const replacedKey = `sk-ant-${randomBytes(24).toString("hex")}`;
  await owner.providers.update.mutate({ projectId, id: "openai", apiKey: replacedKey });
  remember("replaced provider apiKey", replacedKey);
  // Copying the catalog copies the sealed credential, never the plain one.
  await owner.projects.create.mutate({ name: "Copy", copyCatalogFrom: projectId });

  // API keys: created, rotated with and without idempotency keys, retried.
  for (const label of ["one", "two"]) {
    const { key, secret } = await owner.keys.create.mutate({ projectId, label });
    remember(`key ${label}`, secret);
    const rotated = await owner.keys.rotate.mutate({
      id: key.id,
      gracePeriodSeconds: 3600,
      idempotencyKey: `rotate-${label}-0123456789`,
    });
    remember(`key ${label} rotated`, rotated.secret);
    const retried = await owner.keys.rotate.mutate({
      id: key.id,
      gracePeriodSeconds: 3600,
      idempotencyKey: `rotate-${label}-0123456789`,
    });
    expect(retried.secret).toBe(rotated.secret);
    const again = await owner.keys.rotate.mutate({ id: key.id, gracePeriodSeconds: 0 });
    remember(`key ${label} rotated again`, again.secret);
  }

  // Management tokens, one of them used and then revoked.
  const token = await owner.tokens.create.mutate({ projectId, label: "ci", role: "admin" });
  remember("management token", token.secret);
  await apiClient(api.url, { bearer: token.secret }).keys.list.query({ projectId });
  const revoked = await owner.tokens.create.mutate({ projectId, label: "old", role: "viewer" });
  remember("revoked management token", revoked.secret);
  await owner.tokens.revoke.mutate({ id: revoked.token.id });

  // Alert webhooks: the signing secret is shown once; setting it again makes a new one.
  const first = await owner.alerts.set.mutate({ projectId, url: "http://127.0.0.1:9/hooks/a" });
  remember("webhook signing secret", first.signingSecret);
  const next = await owner.alerts.set.mutate({ projectId, url: "http://127.0.0.1:9/hooks/b" });
  remember("replaced webhook signing secret", next.signingSecret);
  expect(next.signingSecret).not.toBe(first.signingSecret);

  // The master key in use, too.
  await apiClient(api.url, { bearer: testMasterKey }).projects.list.query();
});

afterAll(async () => {
  redis?.disconnect();
  await api?.close();
  await services?.close();
});

/** Every row of every table, as text. */
async function dumpDatabase(): Promise<Record<string, string>> {
  const tables = await services.sql<{ name: string }[]>`
    select tablename as name from pg_tables where schemaname = 'public' order by tablename`;
  const dump: Record<string, string> = {};
  for (const { name } of tables) {
    dump[name] = stringify(await services.sql.unsafe(`select * from "${name}"`));
  }
  return dump;
}

/** Every key under the instance's prefix with its value, as text. */
async function dumpRedis(): Promise<Record<string, string>> {
  const dump: Record<string, string> = {};
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(
      cursor,
      "MATCH",
      `${services.redisPrefix}*`,
      "COUNT",
      500,
    );
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      let value: unknown;
      if (type === "string") value = await redis.get(key);
      else if (type === "hash") value = await redis.hgetall(key);
      else if (type === "list") value = await redis.lrange(key, 0, -1);
      else if (type === "set") value = await redis.smembers(key);
      else if (type === "zset") value = await redis.zrange(key, "0", "-1", "WITHSCORES");
      else if (type === "stream") value = await redis.xrange(key, "-", "+");
      else value = `<${type}>`;
      dump[key] = stringify({ key, type, value });
    }
  } while (cursor !== "0");
  return dump;
}

/** Where a secret, or a telling piece of it, shows up in a dump. */
function leaks(dump: Record<string, string>) {
  const found: string[] = [];
  for (const { what, value } of secrets) {
    // The middle of a secret is never displayed, so a piece of it is as bad as all of it.
    const middle = value.slice(Math.floor(value.length / 2) - 6, Math.floor(value.length / 2) + 6);
    for (const [where, text] of Object.entries(dump)) {
      if (text.includes(value)) found.push(`${what} in ${where}`);
      else if (text.includes(middle)) found.push(`part of ${what} in ${where}`);
    }
  }
  return found;
}

it("the scenario handled every kind of secret", () => {
  expect(secrets.map((s) => s.what)).toEqual(
    expect.arrayContaining([
      "key one",
      "key one rotated",
      "management token",
      "provider apiKey",
      "webhook signing secret",
      "signup session cookie",
      "login session cookie",
    ]),
  );
  expect(new Set(secrets.map((s) => s.value)).size).toBe(secrets.length);
});

it("the leak check finds a secret, and a piece of one", () => {
  const { what, value } = secrets[0]!;
  expect(leaks({ planted: `{"x":"${value}"}` })).toContain(`${what} in planted`);
  expect(leaks({ planted: value.slice(2, -2) })).toContain(`part of ${what} in planted`);
});

it("no table holds a secret, in whole or in part", async () => {
  const dump = await dumpDatabase();
  // The dump is real: the tables that hold sealed or hashed forms have rows.
  for (const table of [
    "api_keys",
    "key_rotations",
    "management_tokens",
    "providers",
    "alert_settings",
    "sessions",
    "invitations",
    "users",
    "audit_log",
  ]) {
    expect(dump[table], table).toMatch(/^\[\{/);
  }
  expect(leaks(dump)).toEqual([]);
});

it("no Redis key under the instance's prefix holds a secret, in its name or its value", async () => {
  // Failed sign-ins were counted, so the prefix is not empty.
  const dump = await dumpRedis();
  expect(Object.keys(dump).length).toBeGreaterThan(0);
  expect(leaks(dump)).toEqual([]);
});

it("no read procedure hands a secret or its hash back", async () => {
  const master = apiClient(api.url, { bearer: testMasterKey });
  const responses: Record<string, unknown> = {};
  for (const [name, client] of [
    ["owner", owner],
    ["master", master],
  ] as const) {
    const keys = await client.keys.list.query({ projectId });
    responses[`${name} keys.list`] = keys;
    for (const k of keys.items)
      responses[`${name} keys.get ${k.id}`] = await client.keys.get.query({ id: k.id });
    responses[`${name} auth.me`] = await client.auth.me.query();
    responses[`${name} projects.list`] = await client.projects.list.query();
    responses[`${name} projects.get`] = await client.projects.get.query({ id: projectId });
    responses[`${name} members.list`] = await client.members.list.query({ projectId });
    responses[`${name} providers.list`] = await client.providers.list.query({ projectId });
    responses[`${name} models.list`] = await client.models.list.query({ projectId });
    responses[`${name} tokens.list`] = await client.tokens.list.query({ projectId });
    responses[`${name} alerts.get`] = await client.alerts.get.query({ projectId });
    responses[`${name} alerts.deliveries`] = await client.alerts.deliveries.query({ projectId });
    responses[`${name} audit.list`] = await client.audit.list.query({ projectId, limit: 100 });
    responses[`${name} logs.list`] = await client.logs.list.query({ projectId });
    responses[`${name} usage.summary`] = await client.usage.summary.query({ projectId });
  }
  const dump = Object.fromEntries(Object.entries(responses).map(([k, v]) => [k, stringify(v)]));
  expect(leaks(dump)).toEqual([]);
  const hashes: string[] = [];
  for (const { what, value } of secrets) {
    const hash = hashSecret(value);
    for (const [where, text] of Object.entries(dump))
      if (text.includes(hash)) hashes.push(`hash of ${what} in ${where}`);
  }
  expect(hashes).toEqual([]);
  // The lists did list things: the check looked at real data.
  expect(dump["owner keys.list"]).toContain("osm_");
  expect(dump["owner providers.list"]).toContain('"hasApiKey":true');
  expect(dump["owner tokens.list"]).toContain("osmt_");
  expect(dump["owner alerts.get"]).toContain("/hooks/b");
});

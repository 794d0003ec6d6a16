import { type AppRouter, appRouter } from "@osm/api/router";
import type { Role } from "@osm/db/schema";
import { hashSecret } from "@osm/keys/secrets";
import { type ApiClient, apiClient, testMasterKey, testSecret } from "@osm/testing/api";
import type { inferRouterInputs } from "@trpc/server";
import { beforeAll, describe, expect, it } from "vitest";
import { sessionCookie } from "../src/actor.ts";
import { setupToken } from "../src/auth/setup-token.ts";
import { roleRank } from "../src/trpc.ts";
import {
  addMember,
  callError,
  cookieClient,
  createBareUser,
  createUser,
  directSession,
  login,
  outcome,
  password,
  unique,
  useTestApi,
} from "./helpers.ts";

// Every procedure of the management API × every kind of caller: who may call it, who is
// refused and how. A procedure added to the router without a row here fails the suite.

const t = useTestApi();

type Fixture = {
  projectId: string;
  otherProjectId: string;
  keyId: string;
  otherKeyId: string;
  targetUserId: string;
  loginEmail: string;
};
let fx: Fixture;

// --- Callers --------------------------------------------------------------------------------

type Actor =
  | {
      name: string;
      kind: "person";
      role: Role | null;
      userId: string;
      cookies: Map<string, string>;
    }
  | { name: string; kind: "token"; role: Role; bearer: string }
  | { name: string; kind: "master"; bearer: string }
  | { name: string; kind: "invalid"; bearer: string }
  | { name: string; kind: "anonymous" };

const actors: Actor[] = [];

function clientOf(actor: Actor): ApiClient {
  switch (actor.kind) {
    case "person":
      return apiClient(t.api.url, { cookies: actor.cookies });
    case "token":
    case "master":
    case "invalid":
      return apiClient(t.api.url, { bearer: actor.bearer });
    case "anonymous":
      return apiClient(t.api.url);
  }
}

/** A person's own session was ended (changePassword ends the others): give them a new one. */
async function restoreSessions() {
  for (const actor of actors) {
    if (actor.kind !== "person") continue;
    const token = actor.cookies.get(sessionCookie) ?? "";
    const [row] = await t.services.sql`
      select 1 as found from sessions where token_hash = ${hashSecret(token)}`;
    if (!row) actor.cookies.set(sessionCookie, await directSession(t.services, actor.userId));
  }
}

// --- The table ------------------------------------------------------------------------------

type Access =
  /** Anyone, signed in or not; `outcome` when the call is refused for everyone alike. */
  | { kind: "public"; outcome?: string }
  /** Any valid credential. */
  | { kind: "authed" }
  /** Only a signed-in person (session cookie), not a token or the t.master key. */
  | { kind: "person" }
  /** People and the t.master key; management tokens are bound to one project. */
  | { kind: "notToken" }
  /** At least `min` in the fixture project; NOT_FOUND for people outside it. */
  | { kind: "project"; min: Role };

type Inputs = inferRouterInputs<AppRouter>;
type Path = { [N in keyof Inputs]: `${N & string}.${keyof Inputs[N] & string}` }[keyof Inputs];
type InputOf<P extends Path> = P extends `${infer N}.${infer M}`
  ? N extends keyof Inputs
    ? M extends keyof Inputs[N]
      ? Inputs[N][M]
      : never
    : never
  : never;

type Row<I> = {
  access: Access;
  /** A valid input; `allowed` says whether this caller is expected to succeed. */
  input: (actor: Actor, allowed: boolean) => I | Promise<I>;
  /** Run people on a session of their own: the call ends or replaces the session. */
  freshSession?: boolean;
  /** Run callers one after another: concurrent attempts would meet the sign-in throttle. */
  sequential?: boolean;
  /** Checks on a successful result. */
  check?: (value: unknown, actor: Actor) => void;
};

const P = () => fx.projectId;
const email = () => `${unique("user")}@example.com`;

async function freshKey(): Promise<string> {
  return (await t.master.keys.create.mutate({ projectId: P(), label: unique("key") })).key.id;
}
async function freshProvider(): Promise<string> {
  const id = unique("prov");
  await t.master.providers.create.mutate({
    projectId: P(),
    id,
    kind: "openai",
    baseUrl: "http://127.0.0.1:9/v1",
    apiKey: "sk-fixture",
  });
  return id;
}
async function freshModel(): Promise<string> {
  const id = unique("model");
  await t.master.models.create.mutate({
    projectId: P(),
    id,
    providerId: "prov",
    upstreamModel: "gpt-4o-mini",
    inputUsdPer1M: "0.15",
    outputUsdPer1M: "0.6",
    tier: "paid",
  });
  return id;
}

const table: { [K in Path]: Row<InputOf<K>> } = {
  "auth.me": {
    access: { kind: "public" },
    input: () => undefined,
    check: (value, actor) => {
      const me = value as { actor: { type: string } | null };
      const type =
        actor.kind === "person"
          ? "user"
          : actor.kind === "token" || actor.kind === "master"
            ? actor.kind
            : null;
      expect(me.actor?.type ?? null).toBe(type);
    },
  },
  "auth.signup": {
    // The instance has accounts: sign-up is closed for everyone, whoever asks.
    access: { kind: "public", outcome: "FORBIDDEN" },
    input: () => ({ email: email(), password, setupToken: setupToken(testSecret) }),
  },
  "auth.login": {
    access: { kind: "public" },
    freshSession: true,
    sequential: true,
    input: () => ({ email: fx.loginEmail, password }),
  },
  "auth.logout": { access: { kind: "authed" }, freshSession: true, input: () => undefined },
  "auth.changePassword": {
    access: { kind: "person" },
    freshSession: true,
    input: () => ({ currentPassword: password, newPassword: password }),
  },
  "auth.acceptInvite": {
    access: { kind: "public" },
    freshSession: true,
    input: async () => {
      const { inviteUrl } = await t.master.members.invite.mutate({
        projectId: P(),
        email: email(),
        role: "viewer",
      });
      return { token: new URL(inviteUrl).hash.slice("#token=".length), password };
    },
  },

  "projects.list": {
    access: { kind: "authed" },
    input: () => ({}),
    check: (value, actor) => {
      const ids = (value as { items: { id: string }[] }).items.map((p) => p.id);
      if (actor.kind === "master") {
        expect(ids).toEqual(expect.arrayContaining([P(), fx.otherProjectId]));
      } else if (actor.kind === "person" && actor.role === null) {
        expect(ids).toContain(fx.otherProjectId);
        expect(ids).not.toContain(P());
      } else {
        expect(ids).toContain(P());
        expect(ids).not.toContain(fx.otherProjectId);
      }
    },
  },
  "projects.get": {
    access: { kind: "project", min: "viewer" },
    input: () => ({ id: P() }),
    check: (value, actor) => {
      const role = actor.kind === "person" || actor.kind === "token" ? actor.role : "owner";
      expect(value).toMatchObject({ id: P(), role });
    },
  },
  "projects.create": { access: { kind: "notToken" }, input: () => ({ name: unique("project") }) },
  "projects.update": {
    access: { kind: "project", min: "owner" },
    input: () => ({ id: P(), name: "Fixture project" }),
  },
  "projects.delete": {
    access: { kind: "project", min: "owner" },
    // Callers allowed to delete get a project of their own to delete; the others aim at the
    // fixture project (which survives only if they are refused).
    input: async (actor, allowed) => {
      if (!allowed) return { id: P() };
      const project = await t.master.projects.create.mutate({ name: unique("doomed") });
      if (actor.kind === "person") await addMember(t.services, project.id, actor.userId, "owner");
      return { id: project.id };
    },
  },

  "members.list": {
    access: { kind: "project", min: "viewer" },
    input: () => ({ projectId: P() }),
  },
  "members.invite": {
    access: { kind: "project", min: "owner" },
    input: () => ({ projectId: P(), email: email(), role: "member" }),
  },
  "members.invitations": {
    access: { kind: "project", min: "owner" },
    input: () => ({ projectId: P() }),
  },
  "members.revokeInvitation": {
    access: { kind: "project", min: "owner" },
    input: async () => ({
      id: (await t.master.members.invite.mutate({ projectId: P(), email: email(), role: "viewer" }))
        .id,
    }),
  },
  "members.setRole": {
    access: { kind: "project", min: "owner" },
    input: () => ({ projectId: P(), userId: fx.targetUserId, role: "member" }),
  },
  "members.remove": {
    access: { kind: "project", min: "owner" },
    input: async () => {
      const user = await createBareUser(t.services, email());
      await addMember(t.services, P(), user.id, "viewer");
      return { projectId: P(), userId: user.id };
    },
  },

  "providers.list": {
    access: { kind: "project", min: "viewer" },
    input: () => ({ projectId: P() }),
  },
  "providers.create": {
    access: { kind: "project", min: "admin" },
    input: () => ({
      projectId: P(),
      id: unique("p"),
      kind: "openai",
      baseUrl: "http://127.0.0.1:9/v1",
      apiKey: "sk-created",
    }),
  },
  "providers.update": {
    access: { kind: "project", min: "admin" },
    input: () => ({ projectId: P(), id: "prov", baseUrl: "http://127.0.0.1:9/v1" }),
  },
  "providers.test": {
    access: { kind: "project", min: "admin" },
    input: () => ({ projectId: P(), id: "prov" }),
  },
  "providers.delete": {
    access: { kind: "project", min: "admin" },
    input: async () => ({ projectId: P(), id: await freshProvider() }),
  },

  "models.list": { access: { kind: "project", min: "viewer" }, input: () => ({ projectId: P() }) },
  "models.create": {
    access: { kind: "project", min: "admin" },
    input: () => ({
      projectId: P(),
      id: unique("m"),
      providerId: "prov",
      upstreamModel: "gpt-4o",
      inputUsdPer1M: "2.5",
      outputUsdPer1M: "10",
      tier: "premium",
    }),
  },
  "models.update": {
    access: { kind: "project", min: "admin" },
    input: () => ({ projectId: P(), id: "m1", active: true }),
  },
  "models.delete": {
    access: { kind: "project", min: "admin" },
    input: async () => ({ projectId: P(), id: await freshModel() }),
  },
  "models.importDefaults": {
    access: { kind: "project", min: "admin" },
    input: () => ({ projectId: P(), providerId: "prov" }),
  },

  "keys.list": {
    access: { kind: "project", min: "viewer" },
    input: () => ({ projectId: P() }),
    check: (value) => {
      const ids = (value as { items: { id: string }[] }).items.map((k) => k.id);
      expect(ids).toContain(fx.keyId);
      expect(ids).not.toContain(fx.otherKeyId);
    },
  },
  "keys.get": {
    access: { kind: "project", min: "viewer" },
    input: () => ({ id: fx.keyId }),
    check: (value) => expect(value).toMatchObject({ id: fx.keyId, projectId: P() }),
  },
  "keys.create": {
    access: { kind: "project", min: "member" },
    input: () => ({ projectId: P(), label: unique("created") }),
  },
  "keys.update": {
    access: { kind: "project", min: "member" },
    input: () => ({ id: fx.keyId, label: "fixture key" }),
  },
  "keys.setActive": {
    access: { kind: "project", min: "member" },
    input: () => ({ id: fx.keyId, active: true }),
  },
  "keys.rotate": {
    access: { kind: "project", min: "member" },
    input: () => ({ id: fx.keyId, gracePeriodSeconds: 0 }),
  },
  "keys.endGrace": {
    access: { kind: "project", min: "member" },
    input: () => ({ id: fx.keyId }),
  },
  "keys.revoke": {
    access: { kind: "project", min: "member" },
    input: async () => ({ id: await freshKey() }),
  },
  "keys.resetSpend": {
    access: { kind: "project", min: "admin" },
    input: () => ({ id: fx.keyId }),
  },

  "policy.simulate": {
    access: { kind: "project", min: "viewer" },
    input: () => ({ keyId: fx.keyId, model: "gpt-4o-mini" }),
  },
  "policy.shadowReport": {
    access: { kind: "project", min: "viewer" },
    input: () => ({ keyId: fx.keyId }),
  },

  "usage.summary": {
    access: { kind: "project", min: "viewer" },
    input: () => ({ projectId: P() }),
  },
  "usage.timeseries": {
    access: { kind: "project", min: "viewer" },
    input: () => ({ projectId: P(), bucket: "day" }),
  },
  "logs.list": { access: { kind: "project", min: "viewer" }, input: () => ({ projectId: P() }) },

  "tokens.list": { access: { kind: "project", min: "admin" }, input: () => ({ projectId: P() }) },
  "tokens.create": {
    access: { kind: "project", min: "admin" },
    input: () => ({ projectId: P(), label: unique("token"), role: "viewer" }),
  },
  "tokens.revoke": {
    access: { kind: "project", min: "admin" },
    input: async () => ({
      id: (
        await t.master.tokens.create.mutate({ projectId: P(), label: unique("t"), role: "viewer" })
      ).token.id,
    }),
  },

  "alerts.get": { access: { kind: "project", min: "admin" }, input: () => ({ projectId: P() }) },
  "alerts.set": {
    access: { kind: "project", min: "admin" },
    input: () => ({ projectId: P(), url: "http://127.0.0.1:9/hooks/osm" }),
  },
  "alerts.sendTest": {
    access: { kind: "project", min: "admin" },
    // A webhook that refuses connections: the test is sent and answers with the failure.
    input: async () => {
      await t.master.alerts.set.mutate({ projectId: P(), url: "http://127.0.0.1:9/hooks/osm" });
      return { projectId: P() };
    },
  },
  "alerts.deliveries": {
    access: { kind: "project", min: "admin" },
    input: () => ({ projectId: P() }),
  },

  "audit.list": { access: { kind: "project", min: "viewer" }, input: () => ({ projectId: P() }) },
};

function expectedOutcome(access: Access, actor: Actor): string {
  if (access.kind === "public") return access.outcome ?? "ok";
  if (actor.kind === "invalid" || actor.kind === "anonymous") return "UNAUTHORIZED";
  switch (access.kind) {
    case "authed":
      return "ok";
    case "person":
      return actor.kind === "person" ? "ok" : "FORBIDDEN";
    case "notToken":
      return actor.kind === "token" ? "FORBIDDEN" : "ok";
    case "project":
      if (actor.kind === "master") return "ok";
      if (actor.role === null) return "NOT_FOUND";
      return roleRank[actor.role] >= roleRank[access.min] ? "ok" : "FORBIDDEN";
  }
}

type Procedure = {
  query(input: unknown): Promise<unknown>;
  mutate(input: unknown): Promise<unknown>;
};

function procedureOf(client: ApiClient, path: string): Procedure {
  const [namespace, name] = path.split(".") as [string, string];
  return (client as unknown as Record<string, Record<string, Procedure>>)[namespace]![name]!;
}

const procedures = appRouter._def.procedures as unknown as Record<
  string,
  { _def: { type: string } }
>;

// --- Setup ----------------------------------------------------------------------------------

beforeAll(async () => {
  // The owner signs up through the API and creates the project.
  const ownerEmail = "owner@example.com";
  const ownerUser = await createUser(t.services, ownerEmail);
  const owner = await login(t.api.url, ownerEmail);
  const project = await owner.client.projects.create.mutate({ name: "Fixture project" });

  // The admin joins through an invitation, the others are added directly.
  const { inviteUrl } = await owner.client.members.invite.mutate({
    projectId: project.id,
    email: "admin@example.com",
    role: "admin",
  });
  const adminCookies = new Map<string, string>();
  const joined = await apiClient(t.api.url, { cookies: adminCookies }).auth.acceptInvite.mutate({
    token: new URL(inviteUrl).hash.slice("#token=".length),
    password,
  });
  expect(joined.projectId).toBe(project.id);

  const people: {
    name: string;
    role: Role | null;
    userId: string;
    cookies: Map<string, string>;
  }[] = [];
  people.push({ name: "owner", role: "owner", userId: ownerUser.id, cookies: owner.cookies });
  people.push({ name: "admin", role: "admin", userId: joined.id, cookies: adminCookies });
  for (const role of ["member", "viewer"] as const) {
    const user = await createUser(t.services, `${role}@example.com`);
    await addMember(t.services, project.id, user.id, role);
    people.push({
      name: role,
      role,
      userId: user.id,
      cookies: (await login(t.api.url, user.email)).cookies,
    });
  }
  // Someone who owns another project and has nothing to do with this one.
  const outsiderUser = await createUser(t.services, "outsider@example.com");
  const outsider = await login(t.api.url, outsiderUser.email);
  const otherProject = await outsider.client.projects.create.mutate({ name: "Elsewhere" });
  const otherKey = await outsider.client.keys.create.mutate({
    projectId: otherProject.id,
    label: "theirs",
  });
  people.push({ name: "outsider", role: null, userId: outsiderUser.id, cookies: outsider.cookies });
  for (const p of people) actors.push({ kind: "person", ...p });

  for (const role of ["admin", "member", "viewer"] as const) {
    const { secret } = await owner.client.tokens.create.mutate({
      projectId: project.id,
      label: `${role} token`,
      role,
    });
    actors.push({ name: `${role}Token`, kind: "token", role, bearer: secret });
  }
  actors.push({ name: "master", kind: "master", bearer: testMasterKey });

  const revoked = await owner.client.tokens.create.mutate({
    projectId: project.id,
    label: "revoked",
    role: "admin",
  });
  await owner.client.tokens.revoke.mutate({ id: revoked.token.id });
  const expired = await owner.client.tokens.create.mutate({
    projectId: project.id,
    label: "expired",
    role: "admin",
  });
  await t.services.sql`
    update management_tokens set expires_at = now() - interval '1 minute'
    where id = ${expired.token.id}`;
  actors.push({ name: "revokedToken", kind: "invalid", bearer: revoked.secret });
  actors.push({ name: "expiredToken", kind: "invalid", bearer: expired.secret });
  actors.push({ name: "wrongMaster", kind: "invalid", bearer: "wrong-master-key-0123456789" });
  actors.push({ name: "anonymous", kind: "anonymous" });

  await owner.client.providers.create.mutate({
    projectId: project.id,
    id: "prov",
    kind: "openai",
    baseUrl: "http://127.0.0.1:9/v1",
    apiKey: "sk-fixture",
  });
  await owner.client.models.create.mutate({
    projectId: project.id,
    id: "m1",
    providerId: "prov",
    upstreamModel: "gpt-4o-mini",
    inputUsdPer1M: "0.15",
    outputUsdPer1M: "0.6",
    tier: "paid",
  });
  const key = await owner.client.keys.create.mutate({ projectId: project.id, label: "fixture" });
  const target = await createBareUser(t.services, "target@example.com");
  await addMember(t.services, project.id, target.id, "member");
  const loginUser = await createUser(t.services, "login-target@example.com");

  fx = {
    projectId: project.id,
    otherProjectId: otherProject.id,
    keyId: key.key.id,
    otherKeyId: otherKey.key.id,
    targetUserId: target.id,
    loginEmail: loginUser.email,
  };
});

// --- Tests ----------------------------------------------------------------------------------

it("has a row for every procedure of appRouter, and none for procedures that do not exist", () => {
  expect(Object.keys(table).sort()).toEqual(Object.keys(procedures).sort());
});

describe.each(Object.keys(table) as Path[])("%s", (path) => {
  it("allows exactly the callers its role rule names", async () => {
    const row = table[path] as Row<unknown>;
    const type = procedures[path]?._def.type;
    expect(type === "query" || type === "mutation").toBe(true);
    // Callers run concurrently (scrypt dominates the auth rows); each gets its own input.
    const run = async (actor: Actor) => {
      const want = expectedOutcome(row.access, actor);
      const input = await row.input(actor, want === "ok");
      const client =
        row.freshSession && actor.kind === "person"
          ? cookieClient(t.api.url, await directSession(t.services, actor.userId))
          : clientOf(actor);
      const proc = procedureOf(client, path);
      const result = await outcome(type === "query" ? proc.query(input) : proc.mutate(input));
      return { actor, want, result };
    };
    const results: Awaited<ReturnType<typeof run>>[] = [];
    if (row.sequential) for (const actor of actors) results.push(await run(actor));
    else results.push(...(await Promise.all(actors.map(run))));
    if (row.freshSession) await restoreSessions();
    const expected: Record<string, string> = {};
    const got: Record<string, string> = {};
    for (const { actor, want, result } of results) {
      expected[actor.name] = want;
      got[actor.name] = result.ok ? "ok" : result.error.code;
      if (result.ok) row.check?.(result.value, actor);
      if (!result.ok && result.error.code === "UNAUTHORIZED" && row.access.kind !== "public") {
        // Refused credentials say so; a missing one asks to sign in.
        expect(result.error.message).toBe(
          actor.kind === "anonymous" ? "Sign in first." : "Invalid credentials.",
        );
      }
    }
    expect(got).toEqual(expected);
  });
});

describe("beyond the table", () => {
  it("refuses the owner role for management tokens", async () => {
    const err = await callError(
      t.master.tokens.create.mutate({
        projectId: fx.projectId,
        label: "owner token",
        role: "owner" as "admin",
      }),
    );
    expect(err.code).toBe("BAD_REQUEST");
    expect(err.fields?.map((f) => f.path)).toEqual(["role"]);
  });

  it("a token cannot act on another project, even with an id from it", async () => {
    const adminToken = actors.find((a) => a.name === "adminToken")!;
    const client = clientOf(adminToken);
    expect((await callError(client.keys.get.query({ id: fx.otherKeyId }))).code).toBe("NOT_FOUND");
    expect((await callError(client.keys.list.query({ projectId: fx.otherProjectId }))).code).toBe(
      "NOT_FOUND",
    );
    expect((await callError(client.projects.get.query({ id: fx.otherProjectId }))).code).toBe(
      "NOT_FOUND",
    );
  });

  it("copying a catalog needs the admin role in the source project", async () => {
    const member = clientOf(actors.find((a) => a.name === "member")!);
    const outsider = clientOf(actors.find((a) => a.name === "outsider")!);
    const admin = clientOf(actors.find((a) => a.name === "admin")!);
    const before = await t.services.sql`select count(*)::int as n from projects`;
    expect(
      (await callError(member.projects.create.mutate({ name: "copy", copyCatalogFrom: P() }))).code,
    ).toBe("FORBIDDEN");
    expect(
      (await callError(outsider.projects.create.mutate({ name: "copy", copyCatalogFrom: P() })))
        .code,
    ).toBe("NOT_FOUND");
    const after = await t.services.sql`select count(*)::int as n from projects`;
    expect(after[0]!.n).toBe(before[0]!.n);
    const copy = await admin.projects.create.mutate({ name: "copy", copyCatalogFrom: P() });
    const models = await admin.models.list.query({ projectId: copy.id });
    expect(models.items.map((m) => m.id)).toContain("m1");
  });

  it("a project keeps at least one owner", async () => {
    const ownerActor = actors.find((a) => a.name === "owner")!;
    if (ownerActor.kind !== "person") throw new Error("the owner is a person");
    const owner = clientOf(ownerActor);
    const project = await owner.projects.create.mutate({ name: unique("sole") });
    for (const call of [
      () =>
        owner.members.setRole.mutate({
          projectId: project.id,
          userId: ownerActor.userId,
          role: "admin",
        }),
      () => owner.members.remove.mutate({ projectId: project.id, userId: ownerActor.userId }),
    ]) {
      expect(await callError(call())).toMatchObject({ code: "PRECONDITION_FAILED" });
    }
    // With a second owner, the first may step down.
    const other = await createBareUser(t.services, email());
    await addMember(t.services, project.id, other.id, "viewer");
    await owner.members.setRole.mutate({ projectId: project.id, userId: other.id, role: "owner" });
    await owner.members.setRole.mutate({
      projectId: project.id,
      userId: ownerActor.userId,
      role: "viewer",
    });
    const members = await t.master.members.list.query({ projectId: project.id });
    expect(Object.fromEntries(members.items.map((m) => [m.userId, m.role]))).toEqual({
      [ownerActor.userId]: "viewer",
      [other.id]: "owner",
    });
    // And now, as a viewer, it is refused.
    expect(
      (await callError(owner.projects.update.mutate({ id: project.id, name: "mine again" }))).code,
    ).toBe("FORBIDDEN");
  });

  it("a malformed bearer is refused as invalid credentials, not treated as anonymous", async () => {
    for (const bearer of ["osmt_not-a-token", "osm_abc", "x"]) {
      const err = await callError(apiClient(t.api.url, { bearer }).projects.list.query());
      expect(err).toMatchObject({ code: "UNAUTHORIZED", message: "Invalid credentials." });
    }
  });

  it("the t.master key on a project that does not exist gets NOT_FOUND, never a server error", async () => {
    const missing = "project_doesnotexist";
    const calls: [string, () => Promise<unknown>][] = [
      ["projects.get", () => t.master.projects.get.query({ id: missing })],
      ["projects.update", () => t.master.projects.update.mutate({ id: missing, name: "x" })],
      ["projects.delete", () => t.master.projects.delete.mutate({ id: missing })],
      [
        "members.invite",
        () =>
          t.master.members.invite.mutate({ projectId: missing, email: email(), role: "viewer" }),
      ],
      ["keys.create", () => t.master.keys.create.mutate({ projectId: missing, label: "x" })],
      ["keys.list", () => t.master.keys.list.query({ projectId: missing })],
      [
        "providers.create",
        () =>
          t.master.providers.create.mutate({
            projectId: missing,
            id: "p",
            kind: "openai",
            baseUrl: "http://127.0.0.1:9/v1",
            apiKey: "sk",
          }),
      ],
      [
        "tokens.create",
        () => t.master.tokens.create.mutate({ projectId: missing, label: "x", role: "viewer" }),
      ],
      [
        "alerts.set",
        () => t.master.alerts.set.mutate({ projectId: missing, url: "http://127.0.0.1:9/h" }),
      ],
      [
        "models.importDefaults",
        () => t.master.models.importDefaults.mutate({ projectId: missing }),
      ],
    ];
    const got: Record<string, string> = {};
    for (const [name, call] of calls) {
      const r = await outcome(call());
      got[name] = r.ok ? "ok" : r.error.code;
    }
    expect(got).toEqual(Object.fromEntries(calls.map(([name]) => [name, "NOT_FOUND"])));
  });
});
